"""geodex.open: index files read-only and memory-mapped, against numpy brute force — a byte
index (the repository's golden file), float indexes of every hnswlib space, key-set filters and
the search statistics."""

import pathlib

import geodex
import numpy as np
import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[3] / "testdata" / "golden-v1.gdx"


def brute_force(vectors, queries, k, metric):
    """geodex's own reported distances (squared L2; -<a, b>; 1 - cos) in float64 — for ip
    one less than hnswlib's 1 - <a, b>, which `geodex.Index` reports."""
    v = vectors.astype(np.float64)
    q = np.atleast_2d(queries).astype(np.float64)
    if metric == "l2":
        d = ((q[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    elif metric == "cosine":
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = 1.0 - q @ v.T
    else:
        d = -(q @ v.T)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


def test_a_byte_index_searches_uint8_queries_exactly_with_a_wide_beam():
    index = geodex.open(GOLDEN)
    assert (index.element, index.metric, index.dim, len(index)) == ("u8", "l2", 8, 200)
    keys, vectors = index.items()
    assert vectors.dtype == np.uint8 and vectors.shape == (200, 8)
    queries = vectors[:20]
    found, distances, stats = index.search(queries, k=5, ef=200)
    _, exact = brute_force(vectors, queries, 5, "l2")
    np.testing.assert_allclose(distances, exact, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(found[:, 0], keys[:20])  # each query is a stored vector
    assert stats["mean_distances"] > 0 and stats["mean_hops"] > 0
    with pytest.raises(geodex.InputError):
        index.search(queries.astype(np.float32))  # floats are not silently truncated to bytes
    with pytest.raises(ValueError):
        index.search(vectors[:2, :7])
    with pytest.raises(ValueError):
        index.search(queries, k=0)
    with pytest.raises(ValueError):
        index.search(queries, num_threads=0)


@pytest.mark.parametrize("space", ["l2", "ip", "cosine"])
def test_a_saved_float_index_opens_and_agrees_with_brute_force(tmp_path, space):
    rng = np.random.default_rng(11)
    base = rng.standard_normal((1500, 16)).astype(np.float32)
    queries = rng.standard_normal((30, 16)).astype(np.float32)
    built = geodex.Index(space=space, dim=16)
    built.init_index(max_elements=1500, M=12, ef_construction=100, random_seed=1)
    built.add_items(base, np.arange(1500) * 10)
    built.save_index(str(tmp_path / "f.gdx"))
    index = geodex.open(tmp_path / "f.gdx")
    assert (index.element, index.metric, len(index)) == ("f32", space, 1500)
    found, distances, _ = index.search(queries, k=10, ef=1500, num_threads=2)
    order, exact = brute_force(base, queries, 10, space)
    np.testing.assert_allclose(distances, exact, rtol=1e-4, atol=1e-4)
    assert np.mean(found == order * 10) > 0.99  # keys, up to near-ties
    single, _, _ = index.search(queries[0], k=10, ef=1500)
    np.testing.assert_array_equal(single[0], found[0])


def test_allowed_keys_restrict_the_results_to_that_set(tmp_path):
    rng = np.random.default_rng(12)
    base = rng.standard_normal((800, 8)).astype(np.float32)
    built = geodex.Index(space="l2", dim=8)
    built.init_index(max_elements=800, random_seed=2)
    built.add_items(base)
    built.save_index(str(tmp_path / "a.gdx"))
    index = geodex.open(tmp_path / "a.gdx")
    allowed = np.arange(0, 800, 7)
    queries = base[:25]
    found, distances, _ = index.search(queries, k=5, ef=800, allowed=allowed)
    assert np.isin(found, allowed).all()
    order, exact = brute_force(base[allowed], queries, 5, "l2")
    np.testing.assert_array_equal(found, allowed[order])
    np.testing.assert_allclose(distances, exact, rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError):
        index.search(queries, k=5, allowed=[3, 4])  # two allowed keys cannot give five results


def test_missing_and_corrupt_files_raise(tmp_path):
    with pytest.raises(RuntimeError):
        geodex.open(tmp_path / "absent.gdx")
    damaged = tmp_path / "damaged.gdx"
    damaged.write_bytes(GOLDEN.read_bytes()[:1000])
    with pytest.raises(RuntimeError):
        geodex.open(damaged)
