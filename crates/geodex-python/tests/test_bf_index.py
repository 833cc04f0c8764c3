"""geodex.BFIndex against numpy brute force."""

import pickle

import geodex
import numpy as np
import pytest

DIM = 16


def exact(space, base, queries, k):
    base = base.astype(np.float64)
    queries = np.atleast_2d(queries).astype(np.float64)
    if space == "l2":
        d = ((queries[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    else:
        if space == "cosine":
            base = base / np.linalg.norm(base, axis=1, keepdims=True)
            queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        d = 1.0 - queries @ base.T
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((800, DIM)).astype(np.float32), rng.standard_normal((50, DIM)).astype(
        np.float32
    )


@pytest.mark.parametrize("space", ["l2", "ip", "cosine"])
def test_exact_search_equals_brute_force(space, data):
    base, queries = data
    index = geodex.BFIndex(space=space, dim=DIM)
    index.init_index(max_elements=len(base))
    index.add_items(base, np.arange(len(base)) + 100)
    labels, distances = index.knn_query(queries, k=7)
    order, expected = exact(space, base, queries, 7)
    np.testing.assert_array_equal(labels, order + 100)
    np.testing.assert_allclose(distances, expected, rtol=1e-4, atol=1e-4)


def test_delete_filter_persistence_and_pickle(tmp_path, data):
    base, queries = data
    index = geodex.BFIndex("l2", DIM)
    index.init_index(max_elements=len(base))
    index.add_items(base)
    for label in range(0, len(base), 2):
        index.delete_vector(label)
    index.delete_vector(10**9)  # unknown: ignored, as hnswlib does
    assert index.get_current_count() == len(base) // 2
    labels, _ = index.knn_query(queries, k=5)
    odd = np.arange(1, len(base), 2)
    order, _ = exact("l2", base[odd], queries, 5)
    np.testing.assert_array_equal(labels, odd[order])
    only, _ = index.knn_query(queries, k=3, filter=lambda label: label % 3 == 0)
    mask = odd[odd % 3 == 0]
    order, _ = exact("l2", base[mask], queries, 3)
    np.testing.assert_array_equal(only, mask[order])
    path = tmp_path / "bf.bin"
    index.save_index(str(path))
    loaded = geodex.BFIndex("l2", DIM)
    loaded.load_index(str(path))
    np.testing.assert_array_equal(loaded.knn_query(queries, k=5)[0], labels)
    copy = pickle.loads(pickle.dumps(index))
    np.testing.assert_array_equal(copy.knn_query(queries, k=5)[0], labels)
    raw = bytearray(path.read_bytes())
    raw[60] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError):
        geodex.BFIndex("l2", DIM).load_index(str(path))


def test_capacity_and_bad_input(data):
    base, _ = data
    index = geodex.BFIndex("ip", DIM)
    index.init_index(max_elements=10)
    with pytest.raises(RuntimeError, match="exceeds the specified limit"):
        index.add_items(base[:11])
    assert index.get_current_count() == 0
    with pytest.raises(geodex.InputError):
        index.add_items(base[:2, :5])
    index.add_items(base[:3])
    with pytest.raises(RuntimeError):
        index.knn_query(base[0], k=4)
