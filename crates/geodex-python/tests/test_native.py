"""The native API beyond hnswlib's: geodex.build (byte vectors, the Poincaré ball, quantisers
with exact re-ranking, caller keys) and geodex.DurableIndex (writes through the write-ahead log
that survive a crash of the process), against numpy brute force and a second process."""

import json
import pathlib
import subprocess
import sys

import geodex
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def brute_force(vectors, queries, k, metric):
    """geodex's reported distances in float64, nearest first: squared L2; Poincaré
    arcosh(1 + 2‖u − v‖² / ((1 − ‖u‖²)(1 − ‖v‖²)))."""
    v = vectors.astype(np.float64)
    q = np.atleast_2d(queries).astype(np.float64)
    sq = ((q[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    if metric == "poincare":
        nq = 1.0 - (q**2).sum(-1)[:, None]
        nv = 1.0 - (v**2).sum(-1)[None, :]
        d = np.arccosh(1.0 + 2.0 * sq / (nq * nv))
    else:
        d = sq
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / truth.shape[1] for f, t in zip(found, truth)])


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((20, 32)) * 4
    base = (centers[rng.integers(0, 20, 3000)] + rng.standard_normal((3000, 32))).astype(np.float32)
    queries = (centers[rng.integers(0, 20, 50)] + rng.standard_normal((50, 32))).astype(np.float32)
    return base, queries


def test_a_byte_index_is_built_from_uint8_with_caller_keys(tmp_path):
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (2000, 16), dtype=np.uint8)
    keys = np.arange(2000, dtype=np.uint64) * 7 + 3
    index = geodex.build(tmp_path / "u8.gdx", base, keys=keys, M=12, ef_construction=80, seed=9)
    assert (index.element, index.metric, index.dim, len(index)) == ("u8", "l2", 16, 2000)
    queries = rng.integers(0, 256, (40, 16), dtype=np.uint8)
    found, distances, _ = index.search(queries, k=10, ef=200)
    order, exact = brute_force(base, queries, 10, "l2")
    assert recall(found, keys[order]) > 0.95
    np.testing.assert_allclose(distances, exact, rtol=1e-6)
    # The same seed on one thread gives the same file.
    again = geodex.build(
        tmp_path / "again.gdx", base, keys=keys, M=12, ef_construction=80, seed=9, num_threads=1
    )
    once = geodex.build(
        tmp_path / "once.gdx", base, keys=keys, M=12, ef_construction=80, seed=9, num_threads=1
    )
    assert again.items()[0].tolist() == once.items()[0].tolist()
    assert (tmp_path / "again.gdx").read_bytes() == (tmp_path / "once.gdx").read_bytes()


def test_a_poincare_index_agrees_with_the_closed_form_distance(tmp_path):
    rng = np.random.default_rng(8)
    direction = rng.standard_normal((1500, 5))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    base = (direction * rng.uniform(0, 0.95, (1500, 1))).astype(np.float32)
    queries = base[:30] * 0.99
    index = geodex.build(tmp_path / "p.gdx", base, metric="poincare", M=12)
    found, distances, _ = index.search(queries, k=5, ef=120)
    order, exact = brute_force(base, queries, 5, "poincare")
    assert recall(found, order) > 0.95
    hit = found == order
    np.testing.assert_allclose(distances[hit], exact[hit], rtol=1e-4, atol=1e-5)
    with pytest.raises(geodex.InputError):
        geodex.build(tmp_path / "bad.gdx", base * 2, metric="poincare")  # outside the ball


@pytest.mark.parametrize("quantizer", ["sq8", "pq8", "rabitq:4"])
def test_quantised_search_reranks_to_exact_distances(tmp_path, clustered, quantizer):
    base, queries = clustered
    index = geodex.build(tmp_path / "q.gdx", base, quantizer=quantizer, M=16, ef_construction=100)
    assert index.quantizer != "none"
    order, _ = brute_force(base, queries, 10, "l2")
    plain, plain_d, plain_stats = index.search(queries, k=10, ef=64)
    found, distances, stats = index.search(queries, k=10, ef=64, rerank=40)
    assert plain_stats["mean_reranked"] == 0 and stats["mean_reranked"] >= 40
    # Re-ranked distances are the exact ones of the keys returned, sorted.
    every = ((queries[:, None, :].astype(np.float64) - base[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances, np.take_along_axis(every, found.astype(np.int64), 1), rtol=1e-4)
    assert np.all(np.diff(distances, axis=1) >= 0)
    assert recall(found, order) >= recall(plain, order) and recall(found, order) > 0.9
    # Without re-ranking the distances are the codes' estimates, not the exact ones.
    assert not np.allclose(plain_d, np.take_along_axis(every, plain.astype(np.int64), 1), rtol=1e-4)


def test_rabitq_reranks_by_its_error_bound_like_the_whole_beam(tmp_path, clustered):
    base, queries = clustered
    index = geodex.build(tmp_path / "r.gdx", base, quantizer="rabitq:4", M=16, ef_construction=100)
    assert index.quantizer == "rabitq"
    beam, beam_d, beam_stats = index.search(queries, k=10, ef=64, rerank=64)
    found, distances, stats = index.search(queries, k=10, ef=64, rerank_bound=4.0)
    # The same walk; the bound proves the rest of the beam cannot enter, so the same top 10
    # with fewer exact distances.
    np.testing.assert_array_equal(found, beam)
    np.testing.assert_array_equal(distances, beam_d)
    assert 10 <= stats["mean_reranked"] < beam_stats["mean_reranked"] == 64
    pq = geodex.build(tmp_path / "p.gdx", base, quantizer="pq8", M=16, ef_construction=100)
    with pytest.raises(geodex.InputError):
        pq.search(queries, k=10, rerank_bound=1.9)  # PQ codes carry no bound
    with pytest.raises(geodex.InputError):
        index.search(queries, k=10, rerank_bound=0.0)
    with pytest.raises(geodex.InputError):
        geodex.build(tmp_path / "x.gdx", base, quantizer="rabitq:9")


def test_link_codes_walk_pq4_on_blocks_and_rerank_to_exact_distances(tmp_path, clustered):
    base, queries = clustered
    geodex.build(tmp_path / "p4.gdx", base, quantizer="pq4", M=16, ef_construction=100)
    per_node = geodex.open(tmp_path / "p4.gdx")
    blocks = geodex.open(tmp_path / "p4.gdx", link_codes=True)
    assert per_node.link_code_bytes == 0 and blocks.link_code_bytes > 0
    order, _ = brute_force(base, queries, 10, "l2")
    found, distances, stats = blocks.search(queries, k=10, ef=100, rerank=100)
    node_found, _, node_stats = per_node.search(queries, k=10, ef=100, rerank=100)
    assert recall(found, order) > 0.9 and abs(recall(found, order) - recall(node_found, order)) <= 0.03
    every = ((queries[:, None, :].astype(np.float64) - base[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances, np.take_along_axis(every, found.astype(np.int64), 1), rtol=1e-4)
    # The 8-bit tables change the estimates a little, not the expansions; the block walk counts
    # every lane it scans, visited or not, so its distance count is the larger.
    assert abs(stats["mean_hops"] / node_stats["mean_hops"] - 1) <= 0.05
    assert stats["mean_distances"] >= node_stats["mean_distances"]
    geodex.build(tmp_path / "p8.gdx", base, quantizer="pq8", M=16, ef_construction=100)
    with pytest.raises(geodex.InputError):
        geodex.open(tmp_path / "p8.gdx", link_codes=True)


def test_a_float_file_walks_byte_codes_with_exact_distances(tmp_path, clustered):
    base, queries = clustered
    index = geodex.build(tmp_path / "f.gdx", base, M=16, ef_construction=100)
    exact = geodex.open(tmp_path / "f.gdx", byte_walk=False)
    assert index.byte_walk and not exact.byte_walk
    order, _ = brute_force(base, queries, 10, "l2")
    found, distances, stats = index.search(queries, k=10, ef=48)
    plain, _, plain_stats = exact.search(queries, k=10, ef=48)
    # The whole beam of the walk on codes is re-ranked on the vectors; the exact walk re-ranks nothing.
    assert stats["mean_reranked"] == 48 and plain_stats["mean_reranked"] == 0
    every = ((queries[:, None, :].astype(np.float64) - base[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances, np.take_along_axis(every, found.astype(np.int64), 1), rtol=1e-4)
    assert recall(found, order) >= recall(plain, order) - 0.01 and recall(found, order) > 0.9
    # A byte index has no float vectors to code.
    assert not geodex.build(tmp_path / "b.gdx", base.clip(0, 255).astype(np.uint8)).byte_walk


def test_compressed_links_search_like_fixed_rows_in_a_smaller_file(tmp_path, clustered):
    base, queries = clustered
    fixed = geodex.build(tmp_path / "f.gdx", base, M=12, ef_construction=80, num_threads=1)
    packed = geodex.build(
        tmp_path / "c.gdx", base, M=12, ef_construction=80, num_threads=1, links="compressed"
    )
    assert (fixed.links, packed.links) == ("fixed", "compressed")
    # The same graph, only stored differently: the same hits, distances and work.
    for a, b in zip(fixed.search(queries, k=10, ef=40), packed.search(queries, k=10, ef=40), strict=True):
        if isinstance(a, dict):
            assert a["mean_distances"] == b["mean_distances"]
        else:
            np.testing.assert_array_equal(a, b)
    assert (tmp_path / "c.gdx").stat().st_size < (tmp_path / "f.gdx").stat().st_size
    with pytest.raises(geodex.InputError):
        geodex.build(tmp_path / "x.gdx", base, links="tight")


def test_build_rejects_bad_arguments(tmp_path, clustered):
    base, _ = clustered
    with pytest.raises(geodex.InputError):
        geodex.build(tmp_path / "x.gdx", base[0])  # 1-D
    with pytest.raises(geodex.InputError):
        geodex.build(tmp_path / "x.gdx", base, metric="manhattan")
    with pytest.raises(geodex.InputError):
        geodex.build(tmp_path / "x.gdx", base, quantizer="pq8", pq_m=5)  # 5 does not divide 32
    with pytest.raises(geodex.InputError):
        geodex.build(tmp_path / "x.gdx", base, keys=np.arange(5))
    assert not (tmp_path / "x.gdx").exists()


def test_durable_writes_survive_a_killed_process(tmp_path, clustered):
    base, queries = clustered
    path = tmp_path / "d.gdx"
    geodex.build(path, base[:1000], M=12, ef_construction=80)
    # A child process upserts and deletes through the log, then dies without a checkpoint.
    script = f"""
import os, numpy as np, geodex
ix = geodex.DurableIndex({str(path)!r})
rng = np.random.default_rng(1)
ix.upsert(np.arange(5000, 5010), rng.standard_normal((10, 32)).astype(np.float32) + 50)
ix.delete(np.arange(0, 100))
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    durable = geodex.DurableIndex(path)
    assert durable.replayed == 110 and len(durable) == 1000 - 100 + 10
    rng = np.random.default_rng(1)
    added = rng.standard_normal((10, 32)).astype(np.float32) + 50
    found, distances, _ = durable.search(added, k=1, ef=64)
    np.testing.assert_array_equal(found[:, 0], np.arange(5000, 5010))
    np.testing.assert_allclose(distances[:, 0], 0.0, atol=1e-6)
    found, _, _ = durable.search(queries, k=10, ef=200)
    assert not np.isin(found, np.arange(100)).any()
    # A rejected batch logs nothing and changes nothing.
    with pytest.raises(geodex.InputError):
        durable.upsert(np.arange(2), np.full((2, 32), np.nan, dtype=np.float32))
    with pytest.raises(geodex.InputError):
        durable.upsert(np.arange(3), added[:2])
    assert durable.delete(np.array([5000, 999_999])) == (1, 1)
    durable.checkpoint()
    assert durable.compact() == 101
    del durable
    reopened = geodex.DurableIndex(path)
    assert reopened.replayed == 0 and len(reopened) == 909
    assert (geodex.open(path).items()[0] >= 100).all()


def closure(depth=3, branching=3):
    """A complete tree's transitive closure as (child, ancestor) name pairs."""
    pairs, level = [], ["r"]
    ancestors = {"r": []}
    for _ in range(depth):
        nxt = []
        for parent in level:
            for i in range(branching):
                child = f"{parent}.{i}"
                ancestors[child] = [parent] + ancestors[parent]
                pairs += [(child, a) for a in ancestors[child]]
                nxt.append(child)
        level = nxt
    return pairs


def poincare(u, v):
    sq = ((u - v) ** 2).sum(-1)
    return np.arccosh(1 + 2 * sq / ((1 - (u**2).sum(-1)) * (1 - (v**2).sum(-1))))


def mean_ancestor_rank(pairs, names, d):
    """Mean rank of each ancestor among its node's non-ancestors, by the distance matrix ``d``
    over ``names`` (1 = closer than all of them)."""
    row = {n: i for i, n in enumerate(names)}
    ranks = []
    for child in names:
        mine = {a for c, a in pairs if c == child}
        others = [row[o] for o in names if o != child and o not in mine]
        for a in mine:
            ranks.append(1 + np.sum(d[row[child], others] < d[row[child], row[a]]))
    return float(np.mean(ranks))


@pytest.mark.parametrize("model, dim", [("poincare", 5), ("sarkar", 2), ("sarkar", 5)])
def test_a_hierarchy_embeds_in_the_ball_with_ancestors_ranked_first(tmp_path, model, dim):
    pairs = closure()
    names, vectors, info = geodex.embed_hierarchy(pairs, model=model, dim=dim, epochs=150, seed=4)
    assert vectors.shape == (len(names), dim) and len(names) == 40
    assert (np.linalg.norm(vectors, axis=1) < 1).all()
    d = poincare(vectors[:, None, :].astype(np.float64), vectors[None, :, :].astype(np.float64))
    if model == "sarkar":
        # A construction for tree distances: ball distance / hop distance nearly constant.
        lineage = {n: {n} | {a for c, a in pairs if c == n} for n in names}
        depth = {n: len(lineage[n]) - 1 for n in names}
        hops = np.array(
            [
                [depth[u] + depth[v] - 2 * max(depth[c] for c in lineage[u] & lineage[v]) for v in names]
                for u in names
            ]
        )
        off = hops > 0
        ratio = d[off] / hops[off]
        assert ratio.max() / ratio.min() < 1.5, (ratio.min(), ratio.max())
        return
    rank = mean_ancestor_rank(pairs, names, d)
    assert rank < 2.0, rank
    if model == "poincare":
        assert info["losses"][-1] < info["losses"][0]
        # The linear schedule reaches the trainer (other vectors) and still ranks ancestors first.
        _, linear, _ = geodex.embed_hierarchy(
            pairs, model=model, dim=dim, epochs=150, seed=4, lr_schedule="linear"
        )
        assert not np.array_equal(linear, vectors)
        d_linear = poincare(linear[:, None, :].astype(np.float64), linear[None, :, :].astype(np.float64))
        rank = mean_ancestor_rank(pairs, names, d_linear)
        assert rank < 2.0, rank
        # So do negatives drawn near each node in the hierarchy.
        _, local, _ = geodex.embed_hierarchy(
            pairs, model=model, dim=dim, epochs=150, seed=4, local_negatives=0.5
        )
        assert not np.array_equal(local, vectors)
        d_local = poincare(local[:, None, :].astype(np.float64), local[None, :, :].astype(np.float64))
        assert mean_ancestor_rank(pairs, names, d_local) < 2.0
        # And negatives drawn from each node's nearest unrelated nodes.
        _, hard, _ = geodex.embed_hierarchy(
            pairs, model=model, dim=dim, epochs=150, seed=4, hard_negatives=0.2
        )
        assert not np.array_equal(hard, vectors)
        d_hard = poincare(hard[:, None, :].astype(np.float64), hard[None, :, :].astype(np.float64))
        assert mean_ancestor_rank(pairs, names, d_hard) < 2.0
        path = tmp_path / "closure.tsv"
        path.write_text("".join(f"{c}\t{a}\n" for c, a in pairs))
        again = geodex.embed_hierarchy(str(path), model=model, dim=dim, epochs=150, seed=4)
        assert again[0] == names
        np.testing.assert_array_equal(again[1], vectors)  # one thread, one seed: the same vectors
        index = geodex.build(tmp_path / "h.gdx", vectors, metric="poincare", M=8)
        found, _, _ = index.search(vectors[:5], k=1, ef=40)
        np.testing.assert_array_equal(found[:, 0], np.arange(5))


def test_bad_hierarchies_raise():
    with pytest.raises(geodex.InputError):
        geodex.embed_hierarchy([("a", "a")])
    with pytest.raises(geodex.InputError):
        geodex.embed_hierarchy([])
    with pytest.raises(geodex.InputError):
        geodex.embed_hierarchy([("a", "b")], model="hyperbolic-ish")
    with pytest.raises(geodex.InputError):
        geodex.embed_hierarchy([("a", "b")], model="sarkar", dim=1)
    with pytest.raises(geodex.InputError, match="schedule"):
        geodex.embed_hierarchy([("a", "b")], lr_schedule="cosine")
    with pytest.raises(geodex.InputError, match="local negatives"):
        geodex.embed_hierarchy([("a", "b")], local_negatives=-0.1)
    with pytest.raises(geodex.InputError, match="hard negatives"):
        geodex.embed_hierarchy([("a", "b")], hard_negatives=0.7, local_negatives=0.5)


def test_analyze_reports_what_can_be_checked_independently(tmp_path):
    """IndexFile.analyze against independent facts: the file's size, the dimension of the plane
    the data lie on, and the recall of the same searches against brute force; and the same
    dict as `geodex analyze --json` when the CLI has been built."""
    rng = np.random.default_rng(12)
    frame = np.linalg.qr(rng.standard_normal((16, 2)))[0]  # a 2-D plane in 16-D
    base = (rng.uniform(-1, 1, (3000, 2)) @ frame.T).astype(np.float32)
    queries = (rng.uniform(-1, 1, (60, 2)) @ frame.T).astype(np.float32)
    path = tmp_path / "plane.gdx"
    index = geodex.build(path, base, M=8, ef_construction=60, seed=3)
    report = index.analyze(queries=queries, ef=16, k=10)
    assert report["nodes"] == 3000 and report["index"] == str(path)
    assert set(report) >= {"graph", "spectral", "topology", "geometry", "bounds", "compression"}
    # The sections' bytes: the whole file but its header and section table.
    assert 0 < path.stat().st_size - report["compression"]["total_bytes"] <= 1024
    assert abs(report["geometry"]["intrinsic_dim_mle"] - 2) < 0.5
    assert abs(report["geometry"]["intrinsic_dim_twonn"] - 2) < 0.5
    found, _, _ = index.search(queries, k=10, ef=16)
    order, _ = brute_force(base, queries, 10, "l2")
    assert report["bounds"]["mean_recall"] == pytest.approx(recall(found, order), abs=1e-9)
    assert report["graph"]["unreachable"] == 0
    only = index.analyze(only=["graph"])
    assert set(only) == {"nodes", "index", "graph"}
    with pytest.raises(geodex.InputError):
        index.analyze(only=["astrology"])
    with pytest.raises(geodex.InputError):
        index.analyze(queries=queries.astype(np.uint8).astype(np.float32)[:, :3])
    with pytest.raises(geodex.InputError):
        index.analyze(epsilon=2.0)
    cli = next(
        (p for p in (REPO / "target" / d / "geodex" for d in ("release", "debug")) if p.exists()), None
    )
    if cli is not None:
        out = subprocess.run(
            [cli, "analyze", "--index", path, "--json", "--quiet", "--only", "graph,spectral,compression"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        mine = index.analyze(only=["graph", "spectral", "compression"])
        theirs = json.loads(out)
        for section in ("graph", "spectral", "compression"):
            mine[section].pop("seconds"), theirs[section].pop("seconds")
        assert mine == theirs


def test_one_thread_makes_durable_writes_and_their_replay_deterministic(tmp_path, clustered):
    base, queries = clustered
    geodex.build(tmp_path / "a.gdx", base[:600], M=8, ef_construction=40, num_threads=1)
    (tmp_path / "b.gdx").write_bytes((tmp_path / "a.gdx").read_bytes())
    answers = []
    for name in ("a.gdx", "b.gdx"):
        ix = geodex.DurableIndex(tmp_path / name, num_threads=1)
        ix.upsert(np.arange(600, 1000), base[600:1000])  # a batch linked while searches could differ
        answers.append(ix.search(queries, k=10, ef=12)[:2])
    replayed = geodex.DurableIndex(tmp_path / "a.gdx", num_threads=1)  # the log, linked again
    assert replayed.replayed == 400
    answers.append(replayed.search(queries, k=10, ef=12)[:2])
    for found, distances in answers[1:]:
        np.testing.assert_array_equal(found, answers[0][0])
        np.testing.assert_array_equal(distances, answers[0][1])
    with pytest.raises(ValueError, match="threads"):
        geodex.DurableIndex(tmp_path / "b.gdx", num_threads=0)


def test_kmeans_finds_separated_blobs_and_reports_its_error_exactly():
    rng = np.random.default_rng(11)
    means = np.array([[0, 0, 0], [20, 0, 0], [0, 20, 0], [0, 0, 20]], dtype=np.float32)
    data = (means[rng.integers(4, size=2000)] + rng.normal(size=(2000, 3))).astype(np.float32)
    centroids, mse = geodex.kmeans(data, 4, seed=3)
    assert centroids.shape == (4, 3) and centroids.dtype == np.float32
    # Each true mean has one centroid within sampling error (σ/√500 ≈ 0.05 per axis).
    gaps = np.sqrt(((means[:, None, :] - centroids[None]) ** 2).sum(-1))
    assert sorted(gaps.argmin(1).tolist()) == [0, 1, 2, 3]
    assert gaps.min(1).max() < 0.3
    nearest = ((data[:, None, :].astype(np.float64) - centroids[None]) ** 2).sum(-1).min(1)
    assert mse == pytest.approx(nearest.mean(), rel=1e-5)
    again, _ = geodex.kmeans(data, 4, seed=3)
    np.testing.assert_array_equal(again, centroids)
    with pytest.raises(ValueError, match="cannot train"):
        geodex.kmeans(data[:3], 4)
    with pytest.raises(ValueError, match="2-D"):
        geodex.kmeans(data[0], 2)
