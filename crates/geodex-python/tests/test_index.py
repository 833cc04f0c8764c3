"""geodex.Index against independent computations: numpy brute force with hnswlib's distance
conventions, save/load and pickle round trips, and hnswlib's documented error behaviour."""

import pickle

import geodex
import numpy as np
import pytest

DIM = 24
N = 3000
SPACES = ["l2", "ip", "cosine"]


def exact_distances(space, base, queries):
    """hnswlib's distances (README, "Supported distances"), computed in float64."""
    base = base.astype(np.float64)
    queries = np.atleast_2d(queries).astype(np.float64)
    if space == "l2":
        return ((queries[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    if space == "cosine":
        base = base / np.linalg.norm(base, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return 1.0 - queries @ base.T


def exact_knn(space, base, labels, queries, k):
    d = exact_distances(space, base, queries)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return labels[order]


def recall(found, truth):
    k = truth.shape[1]
    return np.mean([len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth)])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((30, DIM)) * 3
    base = (centers[rng.integers(0, 30, N)] + rng.standard_normal((N, DIM))).astype(np.float32)
    queries = (centers[rng.integers(0, 30, 200)] + rng.standard_normal((200, DIM))).astype(np.float32)
    return base, queries


def build(space, base, labels=None, **init):
    index = geodex.Index(space=space, dim=base.shape[1])
    index.init_index(max_elements=init.pop("max_elements", len(base)), **init)
    index.add_items(base, labels)
    return index


@pytest.mark.parametrize("space", SPACES)
def test_recall_and_distances_match_brute_force(space, data):
    base, queries = data
    labels = np.arange(N, dtype=np.uint64) * 3 + 11  # labels are not row numbers
    index = build(space, base, labels, M=16, ef_construction=100, random_seed=3)
    index.set_ef(100)
    found, distances = index.knn_query(queries, k=10)
    assert found.shape == (200, 10) and found.dtype == np.uint64
    assert distances.shape == (200, 10) and distances.dtype == np.float32
    truth = exact_knn(space, base, labels, queries, 10)
    assert recall(found, truth) >= 0.95
    # Every reported distance is the exact distance of the label reported with it.
    row_of = {int(label): row for row, label in enumerate(labels)}
    full = exact_distances(space, base, queries)
    expected = np.array([[full[q, row_of[int(lab)]] for lab in f] for q, f in enumerate(found)])
    np.testing.assert_allclose(distances, expected, rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(distances, axis=1) >= -1e-6), "nearest first"


def test_one_dimensional_input_is_one_query(data):
    base, queries = data
    index = build("l2", base)
    index.set_ef(50)
    single, single_d = index.knn_query(queries[0], k=5)
    batch, batch_d = index.knn_query(queries[:1], k=5)
    assert single.shape == (1, 5)
    np.testing.assert_array_equal(single, batch)
    np.testing.assert_array_equal(single_d, batch_d)


def test_non_float32_input_is_converted(data):
    base, queries = data
    index = build("l2", base[:500].astype(np.float64))
    from_f64, _ = index.knn_query(queries[:20].astype(np.float64), k=3)
    from_f32, _ = index.knn_query(queries[:20], k=3)
    from_list, _ = index.knn_query(queries[:2].tolist(), k=3)
    np.testing.assert_array_equal(from_f64, from_f32)
    np.testing.assert_array_equal(from_list, from_f32[:2])


def test_threads_give_the_same_answers(data):
    base, queries = data
    index = build("l2", base)
    index.set_ef(60)
    one, one_d = index.knn_query(queries, k=10, num_threads=1)
    two, two_d = index.knn_query(queries, k=10, num_threads=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one_d, two_d)


def test_answers_stay_exact_while_the_graph_freezes_for_search_and_thaws_on_write(data):
    """Searching many times in a row packs the graph for search (geodex-core `freeze_after`);
    the answers must not change, and a write afterwards must be found at once."""
    base, queries = data
    index = build("l2", base, M=12, ef_construction=80, random_seed=5, max_elements=N + 5)
    index.byte_walk = False  # the graph's own answers; the byte walk is tested below
    index.set_ef(60)
    first = [index.knn_query(q, k=10) for q in queries]
    for _ in range(3):  # 600 single-query calls: past the 512 that freeze the graph
        again = [index.knn_query(q, k=10) for q in queries]
    for (l1, d1), (l2, d2) in zip(first, again):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(d1, d2)
    index.add_items(queries[:5], np.arange(N, N + 5))
    labels, distances = index.knn_query(queries[:5], k=1)
    np.testing.assert_array_equal(labels[:, 0], np.arange(N, N + 5))
    np.testing.assert_array_equal(distances[:, 0], np.zeros(5, dtype=np.float32))


@pytest.mark.parametrize("space", SPACES)
def test_byte_walk_keeps_recall_and_exact_distances(space, data):
    """Once frozen, l2 and cosine indexes walk byte codes and re-rank exactly: recall against
    brute force within 0.01 of the float walk's, distances exact; the flag survives pickling."""
    base, queries = data
    labels = np.arange(N, dtype=np.uint64) + 5
    index = build(space, base, labels, M=16, ef_construction=100, random_seed=3)
    truth = exact_knn(space, base, labels, queries, 10)
    for _ in range(3):  # 600 single-query calls: past the 512 that freeze the graph
        for q in queries:
            index.knn_query(q, k=10)
    index.set_ef(32)
    results = {}
    for on in (False, True):
        index.byte_walk = on
        found, distances = index.knn_query(queries, k=10)
        rows = (found - 5).astype(np.int64)
        exact = np.take_along_axis(exact_distances(space, base, queries), rows, axis=1)
        np.testing.assert_allclose(distances, exact, rtol=1e-4, atol=1e-4)
        results[on] = recall(found, truth)
    assert results[True] >= results[False] - 0.01 and results[True] > 0.9, results
    copy = pickle.loads(pickle.dumps(index))
    assert copy.byte_walk
    index.byte_walk = False
    assert not pickle.loads(pickle.dumps(index)).byte_walk


def test_parameters_and_counts(data):
    base, _ = data
    index = geodex.Index("cosine", DIM)
    assert (index.space, index.dim, index.M, index.ef_construction, index.max_elements) == (
        "cosine",
        DIM,
        0,
        0,
        0,
    )
    index.init_index(max_elements=100, M=12, ef_construction=77)
    assert (index.M, index.ef_construction, index.max_elements, index.element_count) == (12, 77, 100, 0)
    index.add_items(base[:40])
    assert index.element_count == index.get_current_count() == 40
    assert sorted(index.get_ids_list()) == list(range(40))
    index.add_items(base[40:50])  # the running counter continues
    assert sorted(index.get_ids_list()) == list(range(50))
    index.ef = 33
    assert index.ef == 33
    index.num_threads = 1
    assert index.num_threads == 1
    with pytest.raises(RuntimeError):
        index.init_index(max_elements=10)


def test_updating_a_label_replaces_its_vector(data):
    base, _ = data
    index = build("l2", base[:500])
    moved = base[0] + 50.0
    index.add_items(moved, 7)
    np.testing.assert_allclose(index.get_items([7])[0], moved)
    assert index.element_count == 500
    found, distances = index.knn_query(moved, k=1)
    assert found[0, 0] == 7 and distances[0, 0] == pytest.approx(0.0, abs=1e-3)


def test_get_items_cosine_returns_normalised_vectors(data):
    base, _ = data
    index = build("cosine", base[:100])
    got = index.get_items(np.arange(10))
    np.testing.assert_allclose(got, base[:10] / np.linalg.norm(base[:10], axis=1, keepdims=True), rtol=1e-5)
    as_list = index.get_items([3], return_type="list")
    assert isinstance(as_list, list) and len(as_list[0]) == DIM
    # The (n, 1) labels of a k = 1 query are read as their n labels, as hnswlib reads them.
    nearest, _ = index.knn_query(base[:10], k=1)
    np.testing.assert_array_equal(index.get_items(nearest), index.get_items(nearest[:, 0]))
    with pytest.raises(ValueError):
        index.get_items(3)
    with pytest.raises(ValueError):
        index.get_items([3], return_type="tuple")
    with pytest.raises(RuntimeError):
        index.get_items([123456])


def test_deleted_labels_are_never_returned_and_come_back(data):
    base, queries = data
    index = build("l2", base, random_seed=5)
    index.set_ef(80)
    gone = np.arange(0, N, 3)
    for label in gone:
        index.mark_deleted(int(label))
    found, _ = index.knn_query(queries, k=10)
    assert not set(found.ravel().tolist()) & set(gone.tolist())
    keep = np.setdiff1d(np.arange(N), gone)
    truth = exact_knn("l2", base[keep], keep.astype(np.uint64), queries, 10)
    assert recall(found, truth) >= 0.95
    assert index.element_count == N, "deleted elements keep their slot"
    assert sorted(index.get_ids_list()) == list(range(N))
    with pytest.raises(RuntimeError):
        index.mark_deleted(0)  # already deleted
    with pytest.raises(RuntimeError):
        index.mark_deleted(10**9)  # unknown
    with pytest.raises(RuntimeError):
        index.unmark_deleted(1)  # not deleted
    with pytest.raises(RuntimeError):
        index.get_items([0])
    index.unmark_deleted(0)
    found, distances = index.knn_query(base[0], k=1)
    assert found[0, 0] == 0 and distances[0, 0] == pytest.approx(0.0, abs=1e-4)


def test_capacity_is_enforced_whole_batch_and_resizable(data):
    base, _ = data
    index = build("l2", base[:100], max_elements=120)
    with pytest.raises(RuntimeError, match="exceeds the specified limit"):
        index.add_items(base[100:150], np.arange(100, 150))
    assert index.element_count == 100, "a refused batch adds nothing"
    assert sorted(index.get_ids_list()) == list(range(100))
    with pytest.raises(RuntimeError):
        index.resize_index(50)
    index.resize_index(150)
    index.add_items(base[100:150], np.arange(100, 150))
    assert index.element_count == index.max_elements == 150


def test_replace_deleted_reuses_slots(data):
    base, _queries = data
    index = build("l2", base[:200], max_elements=200, allow_replace_deleted=True)
    for label in range(50):
        index.mark_deleted(label)
    index.add_items(base[200:250], np.arange(200, 250), replace_deleted=True)
    assert index.element_count == 200
    labels = set(index.get_ids_list())
    assert labels == set(range(50, 250)), "replaced labels are gone, new ones present"
    found, _ = index.knn_query(base[200:250], k=1)
    np.testing.assert_array_equal(found[:, 0], np.arange(200, 250))
    with pytest.raises(RuntimeError):
        index.add_items(base[250:260], np.arange(250, 260))  # full, and no replace asked
    plain = build("l2", base[:10])
    plain.mark_deleted(0)
    with pytest.raises(RuntimeError):
        plain.add_items(base[10], 10, replace_deleted=True)


def test_filter_returns_only_allowed_labels(data):
    base, queries = data
    index = build("l2", base)
    index.set_ef(100)
    allowed = lambda label: label % 4 == 1
    found, _ = index.knn_query(queries[:50], k=5, filter=allowed, num_threads=1)
    assert all(label % 4 == 1 for label in found.ravel().tolist())
    keep = np.arange(1, N, 4)
    truth = exact_knn("l2", base[keep], keep.astype(np.uint64), queries[:50], 5)
    assert recall(found, truth) >= 0.95
    two, _ = index.knn_query(queries[:50], k=5, filter=allowed, num_threads=2)
    np.testing.assert_array_equal(found, two)

    def broken(label):
        raise KeyError("filter failed")

    with pytest.raises(KeyError):
        index.knn_query(queries[:2], k=5, filter=broken)


def test_too_few_results_raise(data):
    base, _ = data
    index = build("l2", base[:5])
    with pytest.raises(RuntimeError, match="contiguous 2D array"):
        index.knn_query(base[0], k=6)
    with pytest.raises(RuntimeError):
        index.knn_query(base[0], k=2, filter=lambda label: label == 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda ix, b: ix.add_items(np.zeros((3, DIM + 1), np.float32)),
        lambda ix, b: ix.add_items(np.zeros((2, 2, DIM), np.float32)),
        lambda ix, b: ix.knn_query(np.zeros(DIM - 1, np.float32)),
        lambda ix, b: ix.add_items(np.full((1, DIM), np.nan, np.float32)),
        lambda ix, b: ix.add_items(b[:2], np.array([-1, 5])),
        lambda ix, b: ix.add_items(b[:2], np.array([1.5, 2.5])),
        lambda ix, b: ix.add_items(b[:3], np.arange(2)),
    ],
)
def test_bad_input_raises_input_error_and_changes_nothing(call, data):
    base, _ = data
    index = build("l2", base[:20], max_elements=100)
    with pytest.raises(geodex.InputError) as raised:
        call(index, base)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, RuntimeError)
    assert index.element_count == 20 and sorted(index.get_ids_list()) == list(range(20))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError):
        geodex.Index("hamming", 4)
    with pytest.raises(ValueError):
        geodex.Index("l2", 0)
    with pytest.raises(ValueError):
        geodex.Index("l2", 4).init_index(10, M=1)
    with pytest.raises(RuntimeError):
        geodex.Index("l2", 4).knn_query(np.zeros(4, np.float32))  # not initialised
    with pytest.raises(ValueError):
        build("cosine", np.zeros((1, 4), np.float32))  # no direction


def test_save_and_load_round_trip(tmp_path, data):
    base, queries = data
    index = build("ip", base, random_seed=9, max_elements=N + 10)
    index.set_ef(64)
    index.mark_deleted(5)
    before = index.knn_query(queries, k=10)
    path = tmp_path / "index.gdx"
    index.save_index(str(path))
    loaded = geodex.Index("ip", DIM)
    loaded.load_index(str(path))
    loaded.set_ef(64)
    after = loaded.knn_query(queries, k=10)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert (loaded.max_elements, loaded.element_count, loaded.M) == (N + 10, N, 16)
    loaded.unmark_deleted(5)  # the deleted vector survived the file
    np.testing.assert_allclose(loaded.get_items([5])[0], base[5], rtol=1e-6)
    bigger = geodex.Index("ip", DIM)
    bigger.load_index(str(path), max_elements=N + 500)
    assert bigger.max_elements == N + 500


def test_pickle_round_trips(data):
    base, queries = data
    index = build("cosine", base[:1000])
    index.set_ef(40)
    index.byte_walk = False  # an unpickled index starts frozen; compare the same walk
    copy = pickle.loads(pickle.dumps(index))
    assert type(copy) is geodex.Index and copy.ef == 40
    for a, b in zip(index.knn_query(queries, k=5), copy.knn_query(queries, k=5)):
        np.testing.assert_array_equal(a, b)
    fresh = pickle.loads(pickle.dumps(geodex.Index("l2", 3)))
    assert (fresh.space, fresh.dim, fresh.max_elements) == ("l2", 3, 0)
    empty = geodex.Index("l2", 3)
    empty.init_index(max_elements=7, M=8)
    empty = pickle.loads(pickle.dumps(empty))
    assert (empty.max_elements, empty.M, empty.element_count) == (7, 8, 0)
    empty.add_items(np.eye(3, dtype=np.float32))
    assert empty.knn_query(np.eye(3, dtype=np.float32)[1])[0][0, 0] == 1


class Tagged(geodex.Index):
    """A subclass, as user code writes them."""

    def nearest(self, vector):
        return int(self.knn_query(vector, k=1)[0][0, 0])


def test_subclasses_work_and_pickle(data):
    base, _ = data
    index = Tagged("l2", DIM)
    index.init_index(max_elements=50)
    index.add_items(base[:50])
    assert index.nearest(base[17]) == 17
    copy = pickle.loads(pickle.dumps(index))
    assert isinstance(copy, Tagged) and copy.nearest(base[3]) == 3


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_files_raise(tmp_path, damage, data):
    base, _ = data
    path = tmp_path / "index.gdx"
    build("l2", base[:300]).save_index(str(path))
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    else:
        raw = bytearray(b"not an index at all" * 10)
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError):
        geodex.Index("l2", DIM).load_index(str(path))


def test_loading_another_dimension_or_space_raises(tmp_path, data):
    base, _ = data
    path = tmp_path / "index.gdx"
    build("l2", base[:100]).save_index(str(path))
    with pytest.raises(geodex.InputError):
        geodex.Index("l2", DIM + 1).load_index(str(path))
    with pytest.raises(geodex.InputError):
        geodex.Index("cosine", DIM).load_index(str(path))
    with pytest.raises(RuntimeError):
        geodex.Index("l2", DIM).load_index(str(tmp_path / "missing.gdx"))
