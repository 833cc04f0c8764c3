"""The server's contract beyond search: collections, bad input, the API key, health and
metrics, graceful shutdown."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse


def post(server, method: str, path: str, body=None, raw: bytes | None = None, headers=None) -> httpx.Response:
    h = {"content-type": "application/json", **(headers or {})}
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    return httpx.request(method, server.url + path, content=data, headers=h, timeout=30)


def assert_error(r: httpx.Response, status: int, needle: str) -> None:
    assert r.status_code == status, r.text
    assert needle in r.json()["status"]["error"], r.text


def test_collections_lifecycle(server) -> None:
    client = server.client()
    assert client.get_collections().collections == []
    client.create_collection(
        "a",
        vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT),
        hnsw_config=models.HnswConfigDiff(m=8, ef_construct=64),
        quantization_config=models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8)
        ),
    )
    client.create_payload_index("a", field_name="color", field_schema=models.PayloadSchemaType.KEYWORD)
    client.upsert("a", points=[models.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"color": "red"})])
    info = client.get_collection("a")
    assert (info.config.hnsw_config.m, info.config.hnsw_config.ef_construct) == (8, 64)
    assert info.config.params.vectors.distance == models.Distance.DOT
    assert info.payload_schema["color"].points == 1
    assert client.collection_exists("a") and not client.collection_exists("b")
    with pytest.raises(UnexpectedResponse) as e:
        client.create_collection(
            "a", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)
        )
    assert e.value.status_code == 400
    with pytest.raises(UnexpectedResponse) as e:
        client.get_collection("b")
    assert e.value.status_code == 404
    assert client.delete_collection("a") is True
    assert client.delete_collection("a") is False
    assert client.get_collections().collections == []


def test_payload_operations_and_ids(server) -> None:
    client = server.client()
    client.create_collection("p", vectors_config=models.VectorParams(size=3, distance=models.Distance.EUCLID))
    uid = "550e8400-e29b-41d4-a716-446655440000"
    client.upsert(
        "p",
        points=[
            models.PointStruct(id=7, vector=[0, 0, 1], payload={"a": 1, "b": "x"}),
            models.PointStruct(id=uid, vector=[0, 1, 0], payload={"a": 2}),
            models.PointStruct(id=7, vector=[1, 0, 0], payload={"a": 3}),  # the last row of an id wins
        ],
    )
    got = {p.id: p for p in client.retrieve("p", ids=[7, uid], with_vectors=True)}
    assert got[7].payload == {"a": 3} and got[7].vector == [1, 0, 0]
    assert got[uid].payload == {"a": 2}
    client.set_payload("p", payload={"c": [1, 2]}, points=[7])
    client.delete_payload("p", keys=["a"], points=[7])
    assert client.retrieve("p", ids=[7])[0].payload == {"c": [1, 2]}
    client.overwrite_payload(
        "p", payload={"d": True}, points=models.Filter(must=[models.HasIdCondition(has_id=[uid])])
    )
    assert client.retrieve("p", ids=[uid])[0].payload == {"d": True}
    client.clear_payload("p", points_selector=models.PointIdsList(points=[7, uid]))
    assert [p.payload for p in client.retrieve("p", ids=[7, uid])] == [{}, {}]
    page, nxt = client.scroll("p", limit=1)
    assert [p.id for p in page] == [7] and nxt == uid
    hit = client.query_points("p", query=[1, 0, 0], limit=1).points[0]
    assert hit.id == 7 and hit.score == 0.0
    by_id = client.query_points("p", query=7, limit=1).points
    assert [p.id for p in by_id] == [uid]
    hits = client.query_points("p", query=[1, 0, 0], limit=2, score_threshold=1.0).points
    assert [p.id for p in hits] == [7]


def test_bad_input_is_a_4xx_with_a_json_error(make_server) -> None:
    server = make_server(extra=["--max-request-mb", "1"])
    client = server.client()
    client.create_collection("v", vectors_config=models.VectorParams(size=3, distance=models.Distance.COSINE))
    assert_error(post(server, "PUT", "/collections/v/points", raw=b"{not json"), 400, "JSON")
    assert_error(post(server, "PUT", "/collections/v/points", {"points": [], "bogus": 1}), 400, "bogus")
    assert_error(
        post(server, "PUT", "/collections/v/points", {"points": [{"id": 1, "vector": [1, 2]}]}),
        400,
        "dimension",
    )
    assert_error(
        post(server, "PUT", "/collections/v/points", raw=b'{"points": [{"id": 1, "vector": [NaN, 1, 2]}]}'),
        400,
        "JSON",
    )
    assert_error(
        post(server, "PUT", "/collections/v/points", {"points": [{"id": 1, "vector": [0, 0, 0]}]}),
        400,
        "zero vector",
    )
    assert_error(
        post(server, "PUT", "/collections/v/points", {"points": [{"id": -1, "vector": [1, 2, 3]}]}),
        400,
        "negative",
    )
    assert_error(
        post(server, "PUT", "/collections/w", {"vectors": {"size": 3, "distance": "Hamming"}}), 400, "Hamming"
    )
    assert_error(
        post(server, "PUT", "/collections/..%2Fescape", {"vectors": {"size": 3, "distance": "Dot"}}),
        400,
        "name",
    )
    assert_error(
        post(server, "PUT", "/collections/.hidden", {"vectors": {"size": 3, "distance": "Dot"}}), 400, "name"
    )
    assert_error(
        post(server, "POST", "/collections/v/points/query", {"query": [1, 2, 3], "filter": {"mus": []}}),
        400,
        "mus",
    )
    assert_error(post(server, "POST", "/collections/v/points/query", {"query": [1, 2]}), 400, "dimension")
    assert_error(post(server, "POST", "/collections/nope/points/query", {"query": [1, 2, 3]}), 404, "nope")
    big = {"points": [{"id": i, "vector": [1.0, 2.0, 3.0]} for i in range(40_000)]}
    assert_error(post(server, "PUT", "/collections/v/points", big), 413, "")
    assert client.count("v").count == 0
    assert [p.name for p in (client.get_collections().collections)] == ["v"]


def test_the_api_key_is_required_except_for_health_checks(make_server) -> None:
    server = make_server(api_key="s3cret")
    assert server.client().get_collections().collections == []
    for key in [None, "wrong", "s3cre", "s3cret!"]:
        with pytest.raises(UnexpectedResponse) as e:
            server.client(api_key=key).get_collections()
        assert e.value.status_code == 401
    assert (
        httpx.get(server.url + "/collections", headers={"authorization": "Bearer s3cret"}).status_code == 200
    )
    for open_route in ["/healthz", "/readyz", "/livez"]:
        assert httpx.get(server.url + open_route).status_code == 200
    assert httpx.get(server.url + "/metrics").status_code == 401


def test_metrics_count_requests_points_and_log_bytes(server) -> None:
    client = server.client()
    client.create_collection("m", vectors_config=models.VectorParams(size=2, distance=models.Distance.EUCLID))
    client.upsert("m", points=[models.PointStruct(id=i, vector=[i, 1]) for i in range(5)])
    for _ in range(3):
        client.query_points("m", query=[1, 1], limit=2)
    text = httpx.get(server.url + "/metrics").text
    lines = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if not line.startswith("#")
    }
    route = 'route="/collections/{name}/points/query"'
    assert lines[f'geodex_http_requests_total{{method="POST",{route},status="200"}}'] == 3
    assert lines[f'geodex_http_request_duration_seconds_count{{method="POST",{route}}}'] == 3
    assert lines['geodex_collection_points{collection="m"}'] == 5
    # 5 upsert records of 1 + 8 + 2·4 bytes.
    assert lines['geodex_collection_log_bytes{collection="m"}'] == 5 * 17


def test_sigterm_drains_checkpoints_and_restarts_from_the_index_file(server) -> None:
    client = server.client()
    client.create_collection("g", vectors_config=models.VectorParams(size=8, distance=models.Distance.COSINE))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 8))
    client.upsert("g", points=models.Batch(ids=list(range(300)), vectors=x.tolist()))
    before = [p.id for p in client.query_points("g", query=x[0].tolist(), limit=5).points]
    assert server.stop() == 0
    assert (server.data_dir / "collections" / "g" / "index.gdx").exists()
    server.start()
    client = server.client()
    text = httpx.get(server.url + "/metrics").text
    assert 'geodex_collection_log_records{collection="g"} 0' in text
    assert [p.id for p in client.query_points("g", query=x[0].tolist(), limit=5).points] == before


def test_aliases_batches_vector_updates_facets_and_uploads(server) -> None:
    client = server.client()
    client.create_collection(
        "v1", vectors_config=models.VectorParams(size=2, distance=models.Distance.EUCLID)
    )
    client.upload_collection(
        "v1",
        vectors=np.array([[i, 0] for i in range(50)], dtype=np.float32),
        payload=[{"kind": ["a", "b", "c"][i % 3]} for i in range(50)],
        ids=range(50),
        batch_size=16,
    )
    assert client.count("v1").count == 50
    facet = client.facet("v1", key="kind", limit=2).hits
    assert [(h.value, h.count) for h in facet] == [("a", 17), ("b", 17)]
    flt = models.Filter(must=[models.FieldCondition(key="kind", match=models.MatchValue(value="c"))])
    assert [(h.value, h.count) for h in client.facet("v1", key="kind", facet_filter=flt).hits] == [("c", 16)]

    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name="v1", alias_name="live")
            )
        ]
    )
    assert client.count("live").count == 50
    assert [(a.alias_name, a.collection_name) for a in client.get_aliases().aliases] == [("live", "v1")]
    assert [a.alias_name for a in client.get_collection_aliases("v1").aliases] == ["live"]

    client.update_vectors("live", points=[models.PointVectors(id=3, vector=[100, 0])])
    moved = client.retrieve("v1", ids=[3], with_vectors=True)[0]
    assert moved.vector == [100, 0] and moved.payload == {"kind": "a"}
    with pytest.raises(UnexpectedResponse) as e:
        client.update_vectors("v1", points=[models.PointVectors(id=999, vector=[1, 1])])
    assert e.value.status_code == 404

    results = client.batch_update_points(
        "live",
        update_operations=[
            models.UpsertOperation(
                upsert=models.PointsList(points=[models.PointStruct(id=60, vector=[60, 0])])
            ),
            models.DeleteOperation(delete=models.PointIdsList(points=[0, 1])),
            models.SetPayloadOperation(set_payload=models.SetPayload(payload={"new": 1}, points=[60])),
        ],
    )
    assert [r.status for r in results] == [models.UpdateStatus.COMPLETED] * 3
    assert client.count("v1").count == 49
    assert client.retrieve("v1", ids=[60])[0].payload == {"new": 1}

    client.update_collection_aliases(
        change_aliases_operations=[
            models.RenameAliasOperation(
                rename_alias=models.RenameAlias(old_alias_name="live", new_alias_name="prod")
            )
        ]
    )
    assert client.count("prod").count == 49
    with pytest.raises(UnexpectedResponse):
        client.count("live")
    assert client.delete_collection("v1") is True
    assert client.get_aliases().aliases == []
    assert httpx.get(server.url + "/cluster").json()["result"]["status"] == "disabled"


def test_query_groups_match_a_brute_force_grouping(server) -> None:
    client = server.client()
    client.create_collection("g", vectors_config=models.VectorParams(size=6, distance=models.Distance.EUCLID))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 6))
    docs = [i // 5 if i % 7 else f"d{i // 5}" for i in range(120)]  # integer and keyword group ids
    client.upsert(
        "g",
        points=models.Batch(
            ids=list(range(120)),
            vectors=x.tolist(),
            payloads=[{"doc": d, "i": i} for i, d in enumerate(docs)],
        ),
    )
    q = rng.normal(size=6)
    res = client.query_points_groups(
        "g", query=q.tolist(), group_by="doc", group_size=2, limit=4, with_payload=["i"]
    ).groups
    order = np.argsort(((x - q) ** 2).sum(1), kind="stable")
    want: dict = {}
    for i in order:
        d = docs[i]
        if d not in want and len(want) == 4:
            continue
        want.setdefault(d, [])
        if len(want[d]) < 2:
            want[d].append(int(i))
    assert [(g.id, [h.id for h in g.hits]) for g in res] == list(want.items())
    assert all(h.payload == {"i": h.id} for g in res for h in g.hits)
