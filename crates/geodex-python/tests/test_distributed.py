"""geodex.distributed on a local Ray cluster (2 CPUs): the sharded index against numpy brute
force and against one geodex index, k-means routing's probes, replacement and deletion across
shards, replicas killed mid-query and mid-write, and bad input that changes nothing.

Needs ``ray``; CI sets ``GEODEX_REQUIRE_RAY=1`` so a missing Ray fails instead of skipping."""

import os
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
