"""The official qdrant-client against `geodex serve` on 20k vectors of each shared set: upsert
with payloads, search with and without filters (recall against brute force over the matching
points), retrieve, count, scroll, delete, snapshot and restore, restart."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models

from conftest import shared_set

N = 20_000
K = 10
BATCH = 1_000


def payload(i: int) -> dict:
    return {
        "group": f"g{i % 10}",
        "n": i,
        "even": i % 2 == 0,
        "tags": [f"t{i % 3}", f"u{i % 7}"],
        "price": (i % 1000) / 10.0,
    }


def brute_force(
    base: np.ndarray, queries: np.ndarray, distance: str, allowed: np.ndarray, k: int
) -> np.ndarray:
    """Ids of the k best allowed rows per query, by the collection's distance."""
    ids = np.flatnonzero(allowed)
    rows = base[ids]
    if distance == "Cosine":
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        key = -(q @ rows.T)
    else:
        key = (queries**2).sum(1)[:, None] - 2 * queries @ rows.T + (rows**2).sum(1)[None, :]
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    return ids[order]


def recall(client, name: str, queries: np.ndarray, truth: np.ndarray, flt=None, **kwargs) -> float:
    hits = 0
    for q, t in zip(queries, truth):
        res = client.query_points(name, query=q.tolist(), limit=K, query_filter=flt, **kwargs).points
        hits += len({p.id for p in res} & set(t.tolist()))
    return hits / truth.size


FILTERS = {
    # name: (filter, mask over row index). At ef 100 over 20k points the search scans the
    # allowed points exactly below a 28 % share and walks the graph above it.
    "bool 50 % (graph walk)": (
        models.Filter(must=[models.FieldCondition(key="even", match=models.MatchValue(value=True))]),
        lambda i: i % 2 == 0,
    ),
    "must_not 90 % (graph walk)": (
        models.Filter(must_not=[models.FieldCondition(key="group", match=models.MatchValue(value="g3"))]),
        lambda i: i % 10 != 3,
    ),
    "keyword 10 %": (
        models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value="g3"))]),
        lambda i: i % 10 == 3,
    ),
    "range 1 % (exact scan)": (
        models.Filter(must=[models.FieldCondition(key="n", range=models.Range(lt=200))]),
        lambda i: i < 200,
    ),
    "any + must_not": (
        models.Filter(
            must=[models.FieldCondition(key="tags", match=models.MatchAny(any=["t0", "u1"]))],
            must_not=[models.FieldCondition(key="even", match=models.MatchValue(value=True))],
        ),
        lambda i: ((i % 3 == 0) | (i % 7 == 1)) & (i % 2 == 1),
    ),
    "nested should": (
        models.Filter(
            should=[
                models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value="g1"))]),
                models.FieldCondition(key="price", range=models.Range(gte=95.0)),
            ]
        ),
        lambda i: (i % 10 == 1) | ((i % 1000) / 10.0 >= 95.0),
    ),
}


def load(client, name: str, base: np.ndarray, distance: str) -> None:
    client.create_collection(
        name,
        vectors_config=models.VectorParams(
            size=base.shape[1], distance=getattr(models.Distance, distance.upper())
        ),
    )
    for start in range(0, len(base), BATCH):
        ids = list(range(start, min(start + BATCH, len(base))))
        client.upsert(
            name,
            points=models.Batch(ids=ids, vectors=base[ids].tolist(), payloads=[payload(i) for i in ids]),
        )


@pytest.mark.parametrize("dataset", ["sift-debian", "minilm-words-20k"])
def test_the_client_finds_what_brute_force_finds(make_server, dataset: str) -> None:
    base, queries, distance = shared_set(dataset, N)
    server = make_server()
    client = server.client()
    load(client, "c", base, distance)
    info = client.get_collection("c")
    assert info.points_count == N
    assert info.config.params.vectors.size == base.shape[1]
    idx = np.arange(N)

    truth = brute_force(base, queries, distance, np.ones(N, bool), K)
    r = recall(client, "c", queries, truth)
    print(f"{dataset}: recall@10 unfiltered {r:.4f}")
    assert r >= 0.95
    for label, (flt, mask) in FILTERS.items():
        allowed = mask(idx)
        t = brute_force(base, queries, distance, allowed, K)
        r = recall(client, "c", queries, t, flt)
        print(f"{dataset}: recall@10 {label} {r:.4f}")
        assert r >= 0.95, label
        assert client.count("c", count_filter=flt).count == int(allowed.sum()), label
        res = client.query_points(
            "c", query=queries[0].tolist(), limit=K, query_filter=flt, with_payload=True
        ).points
        assert all(mask(np.array([p.id]))[0] for p in res), label

    # Scores follow Qdrant's conventions and come best first.
    res = client.query_points("c", query=queries[0].tolist(), limit=K, with_vectors=True).points
    scores = [p.score for p in res]
    v = np.array(res[0].vector, dtype=np.float32)
    if distance == "Cosine":
        assert scores == sorted(scores, reverse=True)
        q = queries[0] / np.linalg.norm(queries[0])
        assert abs(scores[0] - float(q @ v)) < 1e-4
    else:
        assert scores == sorted(scores)
        assert abs(scores[0] - float(np.linalg.norm(queries[0] - v))) < 1e-3 * max(1.0, scores[0])
        assert np.array_equal(v, base[res[0].id])

    # The exact search agrees with brute force everywhere.
    exact = recall(client, "c", queries[:20], truth[:20], search_params=models.SearchParams(exact=True))
    assert exact == 1.0

    # Retrieve and scroll: every point once, in id order, with its payload.
    got = client.retrieve("c", ids=[5, 17, N + 5], with_payload=True)
    assert [(p.id, p.payload) for p in got] == [(5, payload(5)), (17, payload(17))]
    seen, offset = [], None
    while True:
        page, offset = client.scroll("c", limit=3_000, offset=offset, with_payload=False)
        seen += [p.id for p in page]
        if offset is None:
            break
    assert seen == list(range(N))

    # Deleted points are never returned, by ids or by filter.
    client.delete("c", points_selector=models.PointIdsList(points=[int(i) for i in truth[:, 0]]))
    gone = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value="g9"))])
    client.delete("c", points_selector=models.FilterSelector(filter=gone))
    deleted = set(truth[:, 0].tolist()) | set(range(9, N, 10))
    assert client.count("c").count == N - len(deleted)
    for q in queries:
        res = client.query_points("c", query=q.tolist(), limit=K).points
        assert not {p.id for p in res} & deleted
    after_delete = [
        [p.id for p in client.query_points("c", query=q.tolist(), limit=K).points] for q in queries
    ]

    # A snapshot restores the same collection; a restart keeps everything.
    snap = client.create_snapshot("c")
    client.recover_snapshot("restored", location=f"{server.url}/collections/c/snapshots/{snap.name}")
    assert client.count("restored").count == N - len(deleted)
    restored = [
        [p.id for p in client.query_points("restored", query=q.tolist(), limit=K).points] for q in queries
    ]
    assert restored == after_delete
    assert server.stop() == 0
    server.start()
    client = server.client()
    assert sorted(c.name for c in client.get_collections().collections) == ["c", "restored"]
    assert client.count("c").count == N - len(deleted)
    again = [[p.id for p in client.query_points("c", query=q.tolist(), limit=K).points] for q in queries]
    assert again == after_delete
    assert client.retrieve("c", ids=[5])[0].payload == payload(5)
