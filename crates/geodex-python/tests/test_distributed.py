"""geodex.distributed on a local Ray cluster (2 CPUs): the sharded index against numpy brute
force and against one geodex index, k-means routing's probes, replacement and deletion across
shards, replicas killed mid-query and mid-write, and bad input that changes nothing.

Needs ``ray``; CI sets ``GEODEX_REQUIRE_RAY=1`` so a missing Ray fails instead of skipping."""

import os
import shutil
import threading
import time

import geodex
import numpy as np
import pytest

if os.environ.get("GEODEX_REQUIRE_RAY") == "1":
    import ray
else:
    ray = pytest.importorskip("ray")

from geodex.distributed import NO_LABEL, ShardedIndex, merge_top_k

DIM = 12


@pytest.fixture(scope="module", autouse=True)
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def clustered(n, seed, centres=16):
    """Gaussian blobs: structure for k-means routing to find."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(centres, DIM))
    return (means[rng.integers(centres, size=n)] + rng.normal(size=(n, DIM))).astype(np.float32)


def exact(ids, vectors, queries, k):
    """Brute-force k nearest ids and squared L2 distances (float64)."""
    d = ((queries[:, None, :].astype(np.float64) - vectors[None, :, :]) ** 2).sum(-1)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return ids[order], np.take_along_axis(d, order, axis=1)


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())])


def test_random_routing_merges_exactly_and_beats_one_index_at_equal_ef(tmp_path):
    data, queries = clustered(3000, 1), clustered(200, 2)
    ids = np.arange(10_000, 13_000, dtype=np.uint64)
    index = ShardedIndex(DIM, "l2", num_shards=4, replicas=1, storage_path=tmp_path, M=6, ef_construction=40)
    index.add_items(data[:1000], ids[:1000])
    index.add_items(data[1000:], ids[1000:])
    assert index.get_current_count() == 3000
    counts = index.shard_counts()  # as each shard reports it, against the router's hash
    np.testing.assert_array_equal(counts, np.bincount(index.shard_of(ids), minlength=4))
    assert min(counts) > 500  # the hash spreads ids over every shard
    found, distances = index.knn_query(queries, k=10, ef=10)
    truth, exact_d = exact(ids, data, queries, 10)
    # Each merged distance is the true distance of its id, and the list is sorted.
    rows = {int(i): r for r, i in enumerate(ids)}
    true_d = ((queries[:, None, :] - data[[[rows[int(i)] for i in f] for f in found]]) ** 2).sum(-1)
    np.testing.assert_allclose(distances, true_d, rtol=1e-4, atol=1e-3)
    assert (np.diff(distances, axis=1) >= 0).all()
    single = geodex.build(tmp_path / "single.gdx", data, keys=ids, M=6, ef_construction=40, num_threads=1)
    single_found, _, _ = single.search(queries, k=10, ef=10)
    sharded_recall, single_recall = recall(found, truth), recall(single_found, truth)
    assert single_recall < 0.99  # the setting leaves room to lose
    assert sharded_recall >= single_recall, (sharded_recall, single_recall)
    # A wide beam on every shard is exact after the merge.
    wide, wide_d = index.knn_query(queries, k=10, ef=400)
    assert recall(wide, truth) == 1.0
    np.testing.assert_allclose(wide_d, exact_d, rtol=1e-4, atol=1e-3)
    assert index.last_query_stats["shards_per_query"] == 4


def test_kmeans_routing_probes_few_shards_and_follows_moved_and_deleted_ids(tmp_path):
    data, queries = clustered(4000, 3), clustered(200, 4)
    ids = np.arange(4000, dtype=np.uint64)
    index = ShardedIndex(DIM, "l2", num_shards=8, replicas=1, routing="kmeans", storage_path=tmp_path)
    index.add_items(data, ids)
    assert index.centroids is not None and index.centroids.shape == (8, DIM)
    truth, _ = exact(ids, data, queries, 10)
    everywhere, _ = index.knn_query(queries, k=10, ef=64, nprobe=8)
    all_work = index.last_query_stats["mean_distances"]
    assert recall(everywhere, truth) >= 0.99
    # With two probes the answer is the exact top 10 of the two shards whose centroids are
    # nearest the query (a wide beam makes each shard's search exact), at a fraction of the work.
    two, _ = index.knn_query(queries, k=10, ef=400, nprobe=2)
    c = index.centroids.astype(np.float64)
    home = np.argmin(((data[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
    probed = np.argsort(((queries[:, None, :] - c[None]) ** 2).sum(-1), axis=1, kind="stable")[:, :2]
    np.testing.assert_array_equal(index.shards_for(queries, 2), probed)
    np.testing.assert_array_equal(index.shards_for(data)[:, 0], home)
    for q in range(len(queries)):
        inside = np.isin(home, probed[q])
        expected, _ = exact(ids[inside], data[inside], queries[q : q + 1], 10)
        assert set(two[q].tolist()) == set(expected[0].tolist()), q
    index.knn_query(queries, k=10, ef=64, nprobe=2)
    two_work = index.last_query_stats["mean_distances"]
    assert two_work <= 0.5 * all_work, (two_work, all_work)
    assert index.last_query_stats["shards_per_query"] == 2
    # Replace id 7 with a vector in another cluster: it moves shard and is found once there.
    far = data[int(np.argmax(((data - data[7]) ** 2).sum(1)))] + 0.01
    index.add_items(far[None, :], [7])
    found, distances = index.knn_query(far[None, :], k=3)
    assert found[0, 0] == 7 and distances[0, 0] < 1e-3
    assert (found[0] == 7).sum() == 1
    near_old, _ = index.knn_query(data[7][None, :], k=5)
    assert 7 not in near_old[0].tolist()
    assert index.get_current_count() == 4000
    # Deletes are routed by id; unknown ids are ignored.
    assert index.delete_items([7, 8, 999_999]) == 2
    gone, _ = index.knn_query(np.stack([far, data[8]]), k=5)
    assert 7 not in gone.tolist() and 8 not in gone.tolist()
    assert index.get_current_count() == 3998


def test_a_replica_killed_mid_query_fails_over_and_restarts_from_its_index_and_log(tmp_path):
    data, queries = clustered(2000, 5), clustered(300, 6)
    index = ShardedIndex(DIM, "l2", num_shards=2, replicas=2, storage_path=tmp_path, M=8)
    index.add_items(data[:1500])
    index.add_items(data[1500:])  # after the build: these live in the write-ahead logs
    truth, truth_d = exact(np.arange(2000, dtype=np.uint64), data, queries, 5)
    results, errors = [], []

    def query_loop():
        try:
            for _ in range(40):
                results.append(index.knn_query(queries, k=5, ef=64))
        except Exception as e:  # noqa: BLE001 — any failure is what the test looks for
            errors.append(e)

    killed = [index.replica_actors(s)[0] for s in range(2)]
    worker = threading.Thread(target=query_loop)
    worker.start()
    time.sleep(0.3)
    for actor in killed:
        ray.kill(actor)
    worker.join()
    assert errors == []
    assert len(results) == 40
    for found, distances in results:  # every answer whole, whichever replica gave it
        assert recall(found, truth) >= 0.98
        np.testing.assert_allclose(distances[:, 0], truth_d[:, 0], rtol=1e-4, atol=1e-3)
    restarted = [index.replica_actors(s)[0] for s in range(2)]
    assert all(new is not old for new, old in zip(restarted, killed))
    # The restarted replicas alone hold everything (the others are killed now).
    for s in range(2):
        ray.kill(index.replica_actors(s)[1])
    found, _ = index.knn_query(queries, k=5, ef=64)
    assert recall(found, truth) >= 0.98
    assert index.get_current_count() == 2000


def test_no_acknowledged_insert_is_lost_when_replicas_die_around_writes(tmp_path):
    base = clustered(1000, 7)
    index = ShardedIndex(DIM, "l2", num_shards=2, replicas=2, storage_path=tmp_path)
    index.add_items(base)
    acknowledged = []
    rng = np.random.default_rng(8)
    for round_ in range(6):
        victim = index.replica_actors(round_ % 2)[round_ % 2]
        ray.kill(victim)  # dies before the write reaches it: the write is replayed on restart
        batch = clustered(50, 100 + round_)
        ids = np.arange(5000 + 50 * round_, 5050 + 50 * round_)
        index.add_items(batch, ids)
        acknowledged.append((ids, batch))
        gone = rng.choice(ids, size=5, replace=False)
        ray.kill(index.replica_actors(round_ % 2)[1 - round_ % 2])
        assert index.delete_items(gone) == 5
        acknowledged[-1] = (np.setdiff1d(ids, gone), batch[np.isin(ids, gone, invert=True)])
    assert index.get_current_count() == 1000 + 6 * 45
    # Kill the first replica of every shard: the second alone must still hold every write.
    for s in range(2):
        ray.kill(index.replica_actors(s)[0])
    for ids, batch in acknowledged:
        found, distances = index.knn_query(batch, k=1, ef=64)
        np.testing.assert_array_equal(found[:, 0], ids)
        assert (distances[:, 0] < 1e-4).all()


def test_bad_input_is_rejected_before_any_shard_changes(tmp_path):
    index = ShardedIndex(DIM, "cosine", num_shards=2, replicas=1, storage_path=tmp_path)
    index.add_items(clustered(100, 9))
    with pytest.raises(ValueError, match="components"):
        index.add_items(np.ones((3, DIM + 1), dtype=np.float32))
    with pytest.raises(ValueError, match="twice"):
        index.add_items(np.ones((2, DIM), dtype=np.float32), [500, 500])
    zero_last = np.ones((3, DIM), dtype=np.float32)
    zero_last[2] = 0
    with pytest.raises(ValueError, match="zero vector"):
        index.add_items(zero_last, [600, 601, 602])
    nan = np.ones((1, DIM), dtype=np.float32)
    nan[0, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        index.add_items(nan)
    with pytest.raises(ValueError, match="nprobe"):
        index.knn_query(np.ones(DIM), k=1, nprobe=3)
    index.add_items(np.zeros((0, DIM), dtype=np.float32))  # an empty batch changes nothing
    assert index.get_current_count() == 100
    found, _ = index.knn_query(np.ones((1, DIM)), k=200)
    assert (found == NO_LABEL).sum() == 100  # fewer vectors than k: empty slots, not an error


def test_the_merge_keeps_each_ids_best_distance_and_the_k_nearest():
    rng = np.random.default_rng(10)
    labels = rng.integers(0, 30, size=(200, 24)).astype(np.uint64)
    distances = rng.random((200, 24)).astype(np.float32)
    distances[:, -3:] = np.inf  # empty slots of a shard holding fewer than k
    labels[:, -3:] = NO_LABEL
    merged, merged_d = merge_top_k(labels, distances, 12)
    for row in range(200):
        best = {}
        for label, d in zip(labels[row].tolist(), distances[row].tolist()):
            if np.isfinite(d):
                best[label] = min(d, best.get(label, np.inf))
        expected = sorted(best.items(), key=lambda item: item[1])[:12]
        assert merged[row, : len(expected)].tolist() == [label for label, _ in expected]
        np.testing.assert_allclose(merged_d[row, : len(expected)], [d for _, d in expected])
        assert (merged[row, len(expected) :] == NO_LABEL).all()


def test_a_storage_directory_reopens_with_its_writes_and_router_and_refuses_another_shape(tmp_path):
    data = clustered(1500, 12)
    first = ShardedIndex(DIM, "l2", num_shards=4, replicas=1, routing="kmeans", storage_path=tmp_path)
    first.add_items(data[:1000], np.arange(1000))
    first.add_items(data[1000:], np.arange(1000, 1500))  # in the logs only
    with pytest.raises(ValueError, match="trained already"):
        first.train(data)
    expected, _ = first.knn_query(data[:50], k=5, ef=64)
    for s in range(4):  # the coordinator and every replica die at once, without a checkpoint
        ray.kill(first.replica_actors(s)[0])
    again = ShardedIndex(DIM, "l2", num_shards=4, replicas=1, routing="kmeans", storage_path=tmp_path)
    np.testing.assert_array_equal(again.centroids, first.centroids)
    assert again.get_current_count() == 1500
    found, _ = again.knn_query(data[:50], k=5, ef=64)
    assert recall(found, expected) >= 0.98
    # The id → shard table came back: a replacement moves id 3 and leaves no copy behind.
    far = data[int(np.argmax(((data - data[3]) ** 2).sum(1)))] + 0.01
    again.add_items(far[None, :], [3])
    assert again.get_current_count() == 1500
    assert again.delete_items([3, 4]) == 2 and again.get_current_count() == 1498
    fresh = data[:1] + 0.1
    again.add_items(fresh)  # ids continue after the largest held
    assert again.get_current_count() == 1499 and again.knn_query(fresh, k=1)[0][0, 0] == 1500
    with pytest.raises(ValueError, match="another shape"):
        ShardedIndex(DIM + 1, "l2", num_shards=4, replicas=1, routing="kmeans", storage_path=tmp_path)


def closure_placement(vectors, centroids, epsilon, max_copies, rng_rule=False):
    """SPANN's closure assignment (optionally with its RNG rule), one row at a time: the
    reference the vectorised ``placement`` is checked against."""
    c = centroids.astype(np.float64)
    placed = np.zeros((len(vectors), len(c)), dtype=bool)
    for row, x in enumerate(vectors.astype(np.float64)):
        to = np.sqrt(((c - x) ** 2).sum(1))
        order = np.argsort(to, kind="stable")
        chosen = [order[0]]
        for j in order[1:]:
            if len(chosen) == max_copies or to[j] > (1 + epsilon) * to[order[0]]:
                break
            if not rng_rule or all(np.sqrt(((c[i] - c[j]) ** 2).sum()) >= to[j] for i in chosen):
                chosen.append(j)
        placed[row, chosen] = True
    return placed


def kmeans_index(path, **options):
    """8 shards of one replica under k-means routing (the boundary-copy tests' shape)."""
    return ShardedIndex(DIM, "l2", num_shards=8, replicas=1, routing="kmeans", storage_path=path, **options)


def test_boundary_copies_follow_the_closure_rule_and_raise_recall_at_two_probes(tmp_path):
    data, queries = clustered(4000, 13, centres=2), clustered(300, 14, centres=2)
    ids = np.arange(4000, dtype=np.uint64)
    plain = kmeans_index(tmp_path / "plain")
    copied = kmeans_index(tmp_path / "copied", boundary_epsilon=0.3, max_copies=3)
    for index in (plain, copied):
        index.add_items(data, ids)
    np.testing.assert_array_equal(plain.centroids, copied.centroids)  # same sample, same seed
    placed = closure_placement(data, copied.centroids, 0.3, 3)
    np.testing.assert_array_equal(copied.placement(data), placed)
    assert 1.2 < placed.sum(1).mean() < 3  # the setting copies some vectors, not all
    np.testing.assert_array_equal(copied.shard_counts(), placed.sum(0))
    assert copied.get_current_count() == 4000
    assert copied.copies_of(ids[:50]) == [tuple(np.flatnonzero(p).tolist()) for p in placed[:50]]
    # A wide beam makes each shard's search exact: two probes return the exact top 10 of the
    # vectors stored in the two probed shards, each id once.
    probed = copied.shards_for(queries, 2)
    wide, _ = copied.knn_query(queries, k=10, ef=400, nprobe=2)
    for q in range(len(queries)):
        inside = placed[:, probed[q]].any(axis=1)
        expected, _ = exact(ids[inside], data[inside], queries[q : q + 1], 10)
        assert wide[q].tolist() == expected[0].tolist(), q
    truth, _ = exact(ids, data, queries, 10)
    without, _ = plain.knn_query(queries, k=10, ef=400, nprobe=2)
    assert recall(wide, truth) > recall(without, truth) + 0.05, (recall(wide, truth), recall(without, truth))
    # A replacement far away leaves no copy behind; a delete removes every copy, counted once.
    far = data[int(np.argmax(((data - data[5]) ** 2).sum(1)))] + 0.01
    before = copied.shard_counts()
    copied.add_items(far[None, :], [5])
    after = copied.shard_counts()
    moved_to = closure_placement(far[None, :], copied.centroids, 0.3, 3)[0]
    np.testing.assert_array_equal(after, np.array(before) - placed[5] + moved_to)
    near_old, _ = copied.knn_query(data[5][None, :], k=10, nprobe=8)
    assert 5 not in near_old[0].tolist()
    many = int(np.flatnonzero(placed[6:].sum(1) > 1)[0]) + 6  # an id stored more than once
    assert copied.delete_items([many, 5, 999_999]) == 2
    np.testing.assert_array_equal(copied.shard_counts(), np.array(after) - placed[many] - moved_to)
    assert copied.get_current_count() == 3998
    gone, _ = copied.knn_query(np.stack([far, data[many]]), k=10, nprobe=8)
    assert not np.isin([5, many], gone).any()
    # Reopened, the table of copies comes back from the keys the shards hold.
    table = copied.copies_of(ids)
    for s in range(8):
        ray.kill(copied.replica_actors(s)[0])
    again = kmeans_index(tmp_path / "copied", boundary_epsilon=0.3, max_copies=3)
    assert again.copies_of(ids) == table
    with pytest.raises(ValueError, match="another shape"):
        kmeans_index(tmp_path / "copied")
    with pytest.raises(ValueError, match="kmeans"):
        ShardedIndex(DIM, "l2", num_shards=8, max_copies=2, storage_path=tmp_path / "random")
    # The RNG rule, on, matches the reference and keeps fewer copies.
    pruned = kmeans_index(tmp_path / "rng", boundary_epsilon=0.3, max_copies=3, rng_rule=True)
    pruned.train(data[:2000])
    rng_placed = closure_placement(data, pruned.centroids, 0.3, 3, rng_rule=True)
    np.testing.assert_array_equal(pruned.placement(data), rng_placed)
    assert rng_placed.sum() < closure_placement(data, pruned.centroids, 0.3, 3).sum()


def replica_file(index, shard, replica):
    return os.path.join(index.storage_path, f"shard-{shard}", f"replica-{replica}", "index.gdx")


def kill_and_wait(actor):
    """Kills a replica actor and returns once it answers nothing (ray.kill is asynchronous)."""
    ray.kill(actor)
    with pytest.raises(ray.exceptions.RayActorError):
        for _ in range(100):
            ray.get(actor.count.remote())
            time.sleep(0.1)


def test_a_replica_that_lost_or_damaged_its_storage_is_rebuilt_from_a_live_peer(tmp_path, monkeypatch):
    base = clustered(1200, 15)
    index = ShardedIndex(DIM, "l2", num_shards=2, replicas=2, storage_path=tmp_path)
    index.add_items(base)
    index.checkpoint()
    # Shard 0, replica 0: killed, its directory deleted (a lost disk). Shard 1, replica 1:
    # killed, its file cut in half (a damaged one). Both miss the next writes.
    kill_and_wait(index.replica_actors(0)[0])
    shutil.rmtree(os.path.dirname(replica_file(index, 0, 0)))
    kill_and_wait(index.replica_actors(1)[1])
    with open(replica_file(index, 1, 1), "r+b") as f:
        f.truncate(os.path.getsize(replica_file(index, 1, 1)) // 2)
    # Their node has left the cluster, as Ray reports it: they restart wherever Ray puts them.
    monkeypatch.setattr(ray, "nodes", list)  # no node alive
    extra = clustered(100, 16)
    index.add_items(extra, np.arange(5000, 5100))
    monkeypatch.undo()
    assert index.delete_items(np.arange(0, 1200, 7)) == len(range(0, 1200, 7))
    kept = np.setdiff1d(np.arange(1200), np.arange(0, 1200, 7))
    expected = np.union1d(kept, np.arange(5000, 5100))
    for shard, rebuilt, donor in ((0, 0, 1), (1, 1, 0)):
        actors = index.replica_actors(shard)
        assert ray.get(actors[rebuilt].storage.remote()) == "index"
        held = np.sort(ray.get(actors[rebuilt].keys.remote()))
        np.testing.assert_array_equal(held, np.sort(ray.get(actors[donor].keys.remote())))
    every = np.concatenate([ray.get(index.replica_actors(s)[r].keys.remote()) for s, r in ((0, 0), (1, 1))])
    np.testing.assert_array_equal(np.sort(every), expected)
    # With the donors killed, the rebuilt replicas answer alone: every acknowledged vector found.
    for shard, donor in ((0, 1), (1, 0)):
        ray.kill(index.replica_actors(shard)[donor])
    vectors = np.concatenate([base[kept], extra])
    found, distances = index.knn_query(vectors, k=1, ef=64)
    np.testing.assert_array_equal(found[:, 0], np.concatenate([kept, np.arange(5000, 5100)]))
    assert (distances[:, 0] < 1e-4).all()


def test_byte_vectors_stay_bytes_in_the_shards_and_search_exactly(tmp_path):
    rng = np.random.default_rng(17)
    data = rng.integers(0, 256, size=(1500, DIM)).astype(np.uint8)
    queries = rng.integers(0, 256, size=(50, DIM)).astype(np.uint8)
    index = ShardedIndex(DIM, "l2", num_shards=3, replicas=1, storage_path=tmp_path, dtype="uint8")
    index.add_items(data)
    found, distances = index.knn_query(queries, k=10, ef=200)
    truth, exact_d = exact(np.arange(1500), data.astype(np.float64), queries.astype(np.float64), 10)
    assert recall(found, truth) >= 0.99
    np.testing.assert_allclose(distances, exact_d, rtol=1e-6)  # squared L2 of the bytes
    index.checkpoint()
    for s in range(3):
        assert geodex.open(replica_file(index, s, 0)).element == "u8"
    for bad in (np.full((1, DIM), 256), np.full((1, DIM), -1), np.full((1, DIM), 1.5)):
        with pytest.raises(ValueError, match=r"\[0, 255\]"):
            index.add_items(bad)
    assert index.get_current_count() == 1500
    with pytest.raises(ValueError, match="uint8"):
        ShardedIndex(DIM, "cosine", num_shards=2, storage_path=tmp_path / "cos", dtype="uint8")
