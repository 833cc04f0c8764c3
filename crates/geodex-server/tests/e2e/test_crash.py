"""kill -9 during upserts and deletes, 20 times: after each restart every acknowledged point is
there with its payload, no acknowledged delete comes back, and the batch in flight at the kill
is there whole or not at all."""

from __future__ import annotations

import random
import threading

import httpx
import numpy as np
from qdrant_client import models
from qdrant_client.http.exceptions import ResponseHandlingException

DIM = 16
BATCH = 20
RUNS = 20


def vector(i: int) -> list[float]:
    return np.random.default_rng(i).normal(size=DIM).tolist()


def test_acknowledged_writes_survive_kill_9(server) -> None:
    client = server.client()
    client.create_collection(
        "k", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID)
    )
    acked: dict[int, dict] = {}
    deleted: set[int] = set()
    rnd = random.Random(7)
    next_id = 0
    for run in range(RUNS):
        # The write under way when the server dies: ("upsert" | "delete", ids).
        in_flight: list[tuple[str, list[int]]] = []
        errors: list[Exception] = []

        # The writer runs until a request fails: it must not stop by itself between two
        # acknowledged batches, or the kill could land while nothing is in flight and the run
        # would test nothing (and it did, once in CI, when the thread was descheduled).
        def write(client=client, run=run, in_flight=in_flight, errors=errors) -> None:
            nonlocal next_id
            batches = 0
            try:
                while True:
                    if batches % 5 == 4 and len(acked) > 50:
                        doomed = rnd.sample(sorted(acked), 5)
                        in_flight.append(("delete", doomed))
                        client.delete("k", points_selector=models.PointIdsList(points=doomed))
                        for d in doomed:
                            acked.pop(d)
                            deleted.add(d)
                    else:
                        ids = list(range(next_id, next_id + BATCH))
                        in_flight.append(("upsert", ids))
                        client.upsert(
                            "k",
                            points=[
                                models.PointStruct(id=i, vector=vector(i), payload={"run": run, "i": i})
                                for i in ids
                            ],
                        )
                        next_id += BATCH
                        acked.update({i: {"run": run, "i": i} for i in ids})
                    in_flight.pop()
                    batches += 1
            except Exception as e:  # noqa: BLE001 — whatever the kill caused, checked below
                errors.append(e)

        writer = threading.Thread(target=write)
        writer.start()
        threading.Event().wait(rnd.uniform(0.2, 1.2))
        server.kill()
        writer.join(timeout=120)
        assert not writer.is_alive(), f"run {run}: the writer kept writing to a killed server"
        assert len(errors) == 1 and isinstance(errors[0], (ResponseHandlingException, httpx.HTTPError)), (
            f"run {run}: the writer should stop at one failed connection, got {errors!r}"
        )
        kind, unacked = in_flight[-1] if in_flight else ("none", [])
        if kind == "upsert":
            next_id = max(next_id, unacked[-1] + 1)

        server.start()
        client = server.client()
        got = {p.id: p.payload for p in client.retrieve("k", ids=sorted(acked) + sorted(deleted) + unacked)}
        # An unacknowledged write is applied whole or not at all.
        present = [i for i in unacked if i in got]
        assert present in ([], unacked), f"run {run}: half of a {kind} survived: {present}"
        if kind == "upsert":
            acked.update({i: got[i] for i in present})
        elif kind == "delete" and not present:
            for d in unacked:
                acked.pop(d)
                deleted.add(d)
        missing = [i for i in sorted(acked) if got.get(i) != acked[i]]
        assert not missing, f"run {run}: acknowledged points lost or changed: {missing[:10]}"
        assert not deleted & set(got), f"run {run}: deleted points came back"
        assert client.count("k").count == len(acked)
        for d in rnd.sample(sorted(deleted), min(5, len(deleted))):
            hits = client.query_points("k", query=vector(d), limit=3).points
            assert d not in {h.id for h in hits}
    assert len(acked) > RUNS * BATCH
