"""geodex on Ray: a sharded index with replicas, routing and failure recovery.

``ShardedIndex`` splits the vectors over ``num_shards`` shards. Each shard is held by
``replicas`` Ray actors (``ShardReplica``), each with its own ``geodex.DurableIndex`` in its own
directory: a write is logged and fsynced by every live replica of its shard before
``add_items`` or ``delete_items`` returns, so an acknowledged write survives the death of any
replica that acknowledged it. A query goes to one replica per shard (round robin) and is
retried on another replica of the same shard when its actor dies mid-query; the dead replica is
then restarted from its saved index and log on the node it ran on, and the writes it missed
while it was down are replayed into it before it serves again.

Routing: ``'random'`` spreads ids over the shards by a hash of the id and the seed (no table to
keep; deletes go straight to the shard), and a query asks every shard. ``'kmeans'`` sends each
vector to the shard of its nearest centroid (``geodex.kmeans`` on a sample of the first batch,
or on ``train(sample)``), and a query asks only the ``nprobe`` shards whose centroids are
nearest to it. Under both, the per-shard top-k lists are merged exactly (by distance, each id
once).

Ray is needed only by this module (``pip install ray``); ``import geodex`` does not import it.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import ray
from ray.exceptions import RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

import geodex

Routing = Literal["random", "kmeans"]
Space = Literal["l2", "ip", "cosine"]

#: Keys of empty result slots (a shard holding fewer than k vectors), as in ``geodex.open``.
NO_LABEL = np.iinfo(np.uint64).max

#: Rows of the first batch the k-means router trains on when ``train`` was not called.
KMEANS_SAMPLE = 20_000

#: Files of the storage directory beside the shards: the index's shape, the router's centroids.
MANIFEST, CENTROIDS = "sharded.json", "centroids.npy"


def atomic_write(path: str, data: bytes) -> None:
    """Writes ``path`` whole or not at all (temporary file, fsync, rename)."""
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


@dataclass(frozen=True)
class ReplicaConfig:
    """What a replica needs to build, reopen and search its index."""

    path: str
    space: str
    M: int
    ef_construction: int
    seed: int
    num_threads: int
    sync: bool


class ShardReplica:
    """One replica of one shard: a ``geodex.DurableIndex`` in ``config.path`` (built from the
    first batch it receives; every later write goes through its write-ahead log). Opening an
    existing path replays the log, so a restarted replica holds every write it acknowledged."""

    def __init__(self, config: ReplicaConfig) -> None:
        self._config = config
        os.makedirs(os.path.dirname(config.path), exist_ok=True)
        self._index = self._open() if os.path.exists(config.path) else None

    def _open(self) -> geodex.DurableIndex:
        return geodex.DurableIndex(self._config.path, self._config.sync, self._config.num_threads)

    def node_id(self) -> str:
        """The Ray node this replica runs on (its storage is there)."""
        return ray.get_runtime_context().get_node_id()

    def upsert(self, ids: npt.NDArray[np.uint64], data: npt.NDArray[np.float32]) -> int:
        """Inserts or replaces rows, durably; returns the live count."""
        if self._index is None:
            c = self._config
            geodex.build(
                c.path,
                data,
                metric=c.space,
                keys=ids,
                M=c.M,
                ef_construction=c.ef_construction,
                seed=c.seed,
                num_threads=c.num_threads,
            )
            self._index = self._open()
        else:
            self._index.upsert(ids, data)
        return len(self._index)

    def delete(self, ids: npt.NDArray[np.uint64]) -> int:
        """Deletes the ids this shard holds, durably; returns how many it held."""
        if self._index is None:
            return 0
        deleted, _missing = self._index.delete(ids)
        return deleted

    def search(
        self, queries: npt.NDArray[np.float32], k: int, ef: int
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32], float, float]:
        """The k nearest (fewer slots filled when the shard holds fewer than k vectors: label
        ``NO_LABEL``, distance inf), the mean distance evaluations per query and the seconds
        the search took inside the replica."""
        start = time.perf_counter()
        labels = np.full((len(queries), k), NO_LABEL, dtype=np.uint64)
        distances = np.full((len(queries), k), np.inf, dtype=np.float32)
        held = 0 if self._index is None else len(self._index)
        if held == 0 or len(queries) == 0:
            return labels, distances, 0.0, time.perf_counter() - start
        kk = min(k, held)
        found, dist, stats = self._index.search(queries, k=kk, ef=max(ef, kk))
        labels[:, :kk] = found
        distances[:, :kk] = dist
        return labels, distances, float(stats["mean_distances"]), time.perf_counter() - start

    def checkpoint(self) -> None:
        """Saves the index and empties its log."""
        if self._index is not None:
            self._index.checkpoint()

    def keys(self) -> npt.NDArray[np.uint64]:
        """Every live id."""
        return np.zeros(0, dtype=np.uint64) if self._index is None else self._index.keys()

    def count(self) -> int:
        """Live vectors."""
        return 0 if self._index is None else len(self._index)


RemoteReplica = ray.remote(ShardReplica)


@dataclass
class Replica:
    """The coordinator's view of one replica: its actor, the node it runs on, whether it is
    known to be alive, and the writes it missed while dead (replayed when it restarts)."""

    actor: Any
    node: str
    config: ReplicaConfig
    alive: bool = True
    missed: list[tuple[object, str, tuple[Any, ...]]] = field(default_factory=list)


class ShardedIndex:
    """A geodex index sharded over Ray actors, with replicas (see the module docs).

    ``dim``, ``space`` (``'l2'``, ``'ip'``, ``'cosine'``; distances as ``geodex.open``
    reports them: squared L2, ``-<a, b>``, ``1 - cos``), ``num_shards``, ``replicas``,
    ``routing``; ``storage_path`` holds ``shard-S/replica-R/index.gdx`` beside a manifest of
    these arguments and the router's centroids (a fresh temporary directory when not given; a
    directory that holds an index of the same shape is reopened — each replica replays its
    log — and one of another shape is refused); ``M``, ``ef_construction``, ``seed`` and ``num_threads`` are each
    shard's build parameters; ``sync=False`` skips the fsync per write (durable against the
    death of a process, not of a machine); ``actor_options`` go to every replica's
    ``.options()`` (default: ``num_cpus=0``, so many replicas share a small machine)."""

    def __init__(
        self,
        dim: int,
        space: Space = "l2",
        num_shards: int = 2,
        replicas: int = 2,
        routing: Routing = "random",
        *,
        storage_path: str | os.PathLike[str] | None = None,
        M: int = 16,
        ef_construction: int = 200,
        seed: int = 0,
        num_threads: int = 1,
        sync: bool = True,
        actor_options: dict[str, Any] | None = None,
    ) -> None:
        if dim < 1 or num_shards < 1 or replicas < 1:
            raise ValueError("dim, num_shards and replicas must be ≥ 1")
        if space not in ("l2", "ip", "cosine"):
            raise ValueError(f"space must be 'l2', 'ip' or 'cosine', not {space!r}")
        if routing not in ("random", "kmeans"):
            raise ValueError(f"routing must be 'random' or 'kmeans', not {routing!r}")
        self.dim, self.space, self.num_shards, self.routing = dim, space, num_shards, routing
        self.seed = seed
        self.ef = 64
        self.centroids: npt.NDArray[np.float32] | None = None
        self.last_query_stats: dict[str, float] = {}
        self._storage = str(storage_path or tempfile.mkdtemp(prefix="geodex-sharded-"))
        self._actor_options = {"num_cpus": 0, **(actor_options or {})}
        self._shard_of: dict[int, int] = {}
        self._next_id = 0
        self._turn = 0
        self._lock = threading.Lock()
        shape = {
            "dim": dim,
            "space": space,
            "num_shards": num_shards,
            "replicas": replicas,
            "routing": routing,
            "seed": seed,
            "M": M,
            "ef_construction": ef_construction,
        }
        reopened = self._adopt_storage(shape)
        configs = [
            [
                ReplicaConfig(
                    path=os.path.join(self._storage, f"shard-{s}", f"replica-{r}", "index.gdx"),
                    space=space,
                    M=M,
                    ef_construction=ef_construction,
                    seed=seed,
                    num_threads=num_threads,
                    sync=sync,
                )
                for r in range(replicas)
            ]
            for s in range(num_shards)
        ]
        actors = [[RemoteReplica.options(**self._actor_options).remote(c) for c in row] for row in configs]
        nodes = ray.get([a.node_id.remote() for row in actors for a in row])
        self._shards = [
            [Replica(a, nodes[s * replicas + r], c) for r, (a, c) in enumerate(zip(row, configs[s]))]
            for s, row in enumerate(actors)
        ]
        if reopened:
            self._recover_routing()

    def _adopt_storage(self, shape: dict[str, Any]) -> bool:
        """Records ``shape`` in the storage directory's manifest, or checks it against the one
        there (a directory holds one sharded index); returns whether the index existed."""
        os.makedirs(self._storage, exist_ok=True)
        manifest = os.path.join(self._storage, MANIFEST)
        if os.path.exists(manifest):
            with open(manifest) as f:
                held = json.load(f)
            if held != shape:
                differ = {k: (held.get(k), v) for k, v in shape.items() if held.get(k) != v}
                raise ValueError(
                    f"{self._storage} holds a sharded index of another shape (held, asked): {differ}"
                )
            centroids = os.path.join(self._storage, CENTROIDS)
            if os.path.exists(centroids):
                self.centroids = np.load(centroids)
            return True
        atomic_write(manifest, json.dumps(shape, indent=1).encode())
        return False

    def _recover_routing(self) -> None:
        """After reopening: the next free id and, under k-means routing, each id's shard,
        from the keys the shards hold."""
        for s in range(self.num_shards):
            keys = self._read(s, "keys")
            if len(keys):
                self._next_id = max(self._next_id, int(keys.max()) + 1)
            if self.routing == "kmeans":
                self._shard_of.update(dict.fromkeys(keys.tolist(), s))

    # --- routing -------------------------------------------------------------------------

    def train(self, sample: npt.ArrayLike) -> None:
        """Trains the k-means router's centroids (one per shard) on ``sample``, once: they
        are saved with the index, and every vector stays where they routed it."""
        if self.routing != "kmeans":
            raise ValueError("train() is for routing='kmeans'")
        if self.centroids is not None:
            raise ValueError("the router is trained already (its centroids place the stored vectors)")
        rows = self._prepared(self._rows(sample))
        if len(rows) < self.num_shards:
            raise ValueError(f"{len(rows)} rows cannot train {self.num_shards} centroids")
        centroids, _ = geodex.kmeans(rows, self.num_shards, seed=self.seed)
        buffer = io.BytesIO()
        np.save(buffer, centroids)
        atomic_write(os.path.join(self._storage, CENTROIDS), buffer.getvalue())
        self.centroids = centroids

    def _prepared(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Rows as the router compares them (unit length under cosine)."""
        if self.space != "cosine":
            return rows
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def shard_of(self, ids: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """The shard holding each id (-1: none), as deletes are routed."""
        keys = self._ids(ids, len(np.atleast_1d(np.asarray(ids))))
        if self.routing == "random":
            return self._hash_shard(keys)
        return np.array([self._shard_of.get(k, -1) for k in keys.tolist()], dtype=np.intp)

    def shards_for(self, data: npt.ArrayLike, nprobe: int = 1) -> npt.NDArray[np.intp]:
        """Under k-means routing, the ``nprobe`` shards whose centroids are nearest each row
        (nearest first): where a vector is stored (``nprobe=1``) and which shards a query asks."""
        if self.routing != "kmeans" or self.centroids is None:
            raise ValueError("shards_for() needs routing='kmeans' with a trained router")
        return self._centroid_order(self._rows(data))[:, :nprobe]

    def _centroid_order(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.intp]:
        """Per row, the shards by distance of their centroid (nearest first)."""
        assert self.centroids is not None
        x = self._prepared(rows)
        d = (x * x).sum(1)[:, None] - 2.0 * x @ self.centroids.T + (self.centroids**2).sum(1)[None, :]
        return np.argsort(d, axis=1, kind="stable")

    def _hash_shard(self, ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """The shard of each id under random routing: splitmix64(id + seed) mod shards."""
        with np.errstate(over="ignore"):
            z = ids + np.uint64(self.seed) * np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        return (z % np.uint64(self.num_shards)).astype(np.intp)

    # --- input ---------------------------------------------------------------------------

    def _rows(self, data: npt.ArrayLike) -> npt.NDArray[np.float32]:
        rows = np.ascontiguousarray(np.atleast_2d(np.asarray(data, dtype=np.float32)))
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"expected rows of {self.dim} components, got shape {np.shape(data)}")
        if not np.isfinite(rows).all():
            raise ValueError("vectors must have finite components")
        if self.space == "cosine" and (np.linalg.norm(rows, axis=1) == 0).any():
            raise ValueError("a zero vector has no direction (cosine)")
        return rows

    def _ids(self, ids: npt.ArrayLike | None, rows: int) -> npt.NDArray[np.uint64]:
        if ids is None:
            out = np.arange(self._next_id, self._next_id + rows, dtype=np.uint64)
        else:
            raw = np.atleast_1d(np.asarray(ids))
            if raw.ndim != 1 or raw.dtype.kind not in "iu" or (raw.dtype.kind == "i" and (raw < 0).any()):
                raise ValueError("ids must be non-negative integers, one per row")
            out = raw.astype(np.uint64)
        if len(out) != rows:
            raise ValueError(f"{len(out)} ids for {rows} rows")
        if len(np.unique(out)) != len(out):
            raise ValueError("an id appears twice in the batch")
        return out

    # --- writes --------------------------------------------------------------------------

    def add_items(self, data: npt.ArrayLike, ids: npt.ArrayLike | None = None) -> None:
        """Inserts (or replaces) the rows of ``data`` under ``ids`` (default: the next free
        numbers). Returns once every live replica of every shard touched has logged the batch;
        a batch with bad rows or ids is rejected before any shard sees it."""
        rows = self._rows(data)
        keys = self._ids(ids, len(rows))
        if len(rows) == 0:
            return
        with self._lock:
            if self.routing == "kmeans" and self.centroids is None:
                sample = np.random.default_rng(self.seed).permutation(len(rows))[:KMEANS_SAMPLE]
                self.train(rows[sample])
            target = self._centroid_order(rows)[:, 0] if self.routing == "kmeans" else self._hash_shard(keys)
            moved = self._moved(keys, target)
            calls = [
                (s, "upsert", (keys[target == s], rows[target == s]))
                for s in range(self.num_shards)
                if (target == s).any()
            ]
            self._write(calls)
            self._write([(s, "delete", (gone,)) for s, gone in moved.items()])
            if self.routing == "kmeans":
                self._shard_of.update(zip(keys.tolist(), target.tolist()))
            self._next_id = max(self._next_id, int(keys.max()) + 1)

    def _moved(self, keys: npt.NDArray[np.uint64], target: npt.NDArray[np.intp]) -> dict[int, npt.NDArray]:
        """Ids a k-means upsert moves to another shard, by the shard that holds them now."""
        moved: dict[int, list[int]] = {}
        for key, s in zip(keys.tolist(), target.tolist()):
            old = self._shard_of.get(key)
            if old is not None and old != s:
                moved.setdefault(old, []).append(key)
        return {s: np.array(ks, dtype=np.uint64) for s, ks in moved.items()}

    def delete_items(self, ids: npt.ArrayLike) -> int:
        """Deletes ``ids`` (unknown ids are ignored); returns how many were deleted."""
        keys = self._ids(ids, len(np.atleast_1d(np.asarray(ids))))
        with self._lock:
            shard = self.shard_of(keys)
            calls = [(s, "delete", (keys[shard == s],)) for s in range(self.num_shards) if (shard == s).any()]
            deleted = self._write(calls)
            for k in keys.tolist():
                self._shard_of.pop(k, None)
            return sum(deleted)

    def mark_deleted(self, label: int) -> None:
        """hnswlib's spelling of deleting one id."""
        self.delete_items([label])

    def _write(self, calls: list[tuple[int, str, tuple[Any, ...]]]) -> list[Any]:
        """Sends each (shard, method, args) to every live replica of the shard at once; a
        replica whose actor dies gets the call in its missed list and is restarted (replaying
        the list) before this returns. Returns one answer per call (from a replica that lived)."""
        self._restart_dead()
        tokens = [object() for _ in calls]
        pending = [
            (i, rep, getattr(rep.actor, method).remote(*args))
            for i, (s, method, args) in enumerate(calls)
            for rep in self._shards[s]
            if rep.alive
        ]
        answers: dict[int, Any] = {}
        for i, rep, ref in pending:
            try:
                answers[i] = ray.get(ref)
            except RayActorError:
                self._mark_dead(rep)
                rep.missed.append((tokens[i], *calls[i][1:]))
        replayed = self._restart_dead()
        # A call every replica of its shard died on is answered by its replay.
        return [answers[i] if i in answers else replayed[tokens[i]] for i in range(len(calls))]

    # --- queries -------------------------------------------------------------------------

    def set_ef(self, ef: int) -> None:
        """Beam width of each shard's search."""
        self.ef = ef

    def knn_query(
        self, data: npt.ArrayLike, k: int = 1, ef: int | None = None, nprobe: int | None = None
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
        """The k nearest ids and their distances for each row of ``data``: every shard under
        random routing, the ``nprobe`` shards of the nearest centroids under k-means routing
        (default: all). ``last_query_stats`` then holds ``mean_distances`` (distance
        evaluations per query, summed over the shards asked), ``shards_per_query``, and the
        call's ``seconds``: in all, in the slowest shard's search (``shard_seconds``) and in
        the merge (``merge_seconds``); the rest is routing, transfer and scheduling."""
        start = time.perf_counter()
        rows = self._rows(data)
        if k < 1:
            raise ValueError("k must be ≥ 1")
        ef = self.ef if ef is None else ef
        probes = self.num_shards if nprobe is None else nprobe
        if not 1 <= probes <= self.num_shards:
            raise ValueError(f"nprobe must be between 1 and {self.num_shards}")
        with self._lock:
            if self.routing == "kmeans" and self.centroids is not None:
                asked = self._centroid_order(rows)[:, :probes]
            else:
                probes = self.num_shards
                asked = np.tile(np.arange(self.num_shards), (len(rows), 1))
            answers = self._scatter(rows, asked, k, ef)
        labels = np.full((len(rows), probes * k), NO_LABEL, dtype=np.uint64)
        distances = np.full((len(rows), probes * k), np.inf, dtype=np.float32)
        evaluations, shard_seconds = 0.0, 0.0
        merge_start = time.perf_counter()
        for s, (found, dist, mean_distances, seconds) in answers.items():
            queries, slots = np.nonzero(asked == s)
            columns = slots[:, None] * k + np.arange(k)[None, :]
            labels[queries[:, None], columns] = found
            distances[queries[:, None], columns] = dist
            evaluations += mean_distances * len(queries)
            shard_seconds = max(shard_seconds, seconds)
        merged = merge_top_k(labels, distances, k)
        end = time.perf_counter()
        self.last_query_stats = {
            "mean_distances": evaluations / max(len(rows), 1),
            "shards_per_query": float(probes),
            "seconds": end - start,
            "shard_seconds": shard_seconds,
            "merge_seconds": end - merge_start,
        }
        return merged

    def _scatter(
        self, rows: npt.NDArray[np.float32], asked: npt.NDArray[np.intp], k: int, ef: int
    ) -> dict[int, Any]:
        """Sends every shard asked its queries (rows of ``asked`` holding it, in row order) at
        once, then gathers (failing over as ``_read`` does)."""
        sent = {}
        for s in range(self.num_shards):
            queries = np.nonzero((asked == s).any(axis=1))[0]
            if len(queries):
                sent[s] = self._submit(s, "search", (rows[queries], k, ef))
        answers = {s: self._gather(s, *call) for s, call in sent.items()}
        self._restart_dead()
        return answers

    def _read(self, s: int, method: str, *args: Any) -> Any:
        """Shard ``s``'s answer to a call that changes nothing, failing over (``_gather``)."""
        answer = self._gather(s, *self._submit(s, method, args))
        self._restart_dead()
        return answer

    def _submit(
        self, s: int, method: str, args: tuple[Any, ...]
    ) -> tuple[Replica, Any, str, tuple[Any, ...]]:
        """Sends a read to the next live replica of shard ``s``."""
        rep = self._live(s)
        return rep, getattr(rep.actor, method).remote(*args), method, args

    def _gather(self, s: int, rep: Replica, ref: Any, method: str, args: tuple[Any, ...]) -> Any:
        """The answer of a submitted read; a replica that died before answering is marked dead
        and the read goes to the next replica of the shard (restarting them all when none is
        left), until one answers."""
        while True:
            try:
                return ray.get(ref)
            except RayActorError:
                self._mark_dead(rep)
                rep, ref, _, _ = self._submit(s, method, args)

    # --- replicas ------------------------------------------------------------------------

    def _live(self, s: int) -> Replica:
        """The next live replica of shard ``s`` (round robin); restarts the shard's replicas
        first when none is known to be alive."""
        live = [r for r in self._shards[s] if r.alive]
        if not live:
            self._restart_dead()
            live = self._shards[s]
        self._turn += 1
        return live[self._turn % len(live)]

    def _mark_dead(self, rep: Replica) -> None:
        rep.alive = False
        ray.kill(rep.actor, no_restart=True)

    def _restart_dead(self) -> dict[object, Any]:
        """Restarts every dead replica from its saved index and log, on its node, and replays
        the writes it missed; returns the replayed calls' answers by their tokens."""
        answers = {}
        for shard in self._shards:
            for rep in shard:
                if rep.alive:
                    continue
                strategy = NodeAffinitySchedulingStrategy(node_id=rep.node, soft=False)
                options = {**self._actor_options, "scheduling_strategy": strategy}
                rep.actor = RemoteReplica.options(**options).remote(rep.config)
                for token, method, args in rep.missed:
                    answers[token] = ray.get(getattr(rep.actor, method).remote(*args))
                rep.missed.clear()
                rep.alive = True
        return answers

    def replica_actors(self, shard: int) -> list[Any]:
        """The Ray actor handles of shard ``shard``'s replicas (for operators and tests)."""
        return [r.actor for r in self._shards[shard]]

    def checkpoint(self) -> None:
        """Saves every replica's index and empties its log."""
        self._write([(s, "checkpoint", ()) for s in range(self.num_shards)])

    def get_current_count(self) -> int:
        """Live vectors over all shards (as one live replica of each reports)."""
        return sum(self.shard_counts())

    def __len__(self) -> int:
        return self.get_current_count()

    def shard_counts(self) -> list[int]:
        """Live vectors per shard."""
        return [self._read(s, "count") for s in range(self.num_shards)]

    @property
    def storage_path(self) -> str:
        return self._storage

    def close(self) -> None:
        """Checkpoints and stops every replica actor."""
        self.checkpoint()
        for shard in self._shards:
            for rep in shard:
                ray.kill(rep.actor, no_restart=True)
                rep.alive = False


def merge_top_k(
    labels: npt.NDArray[np.uint64], distances: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
    """Per row, the k smallest distances of the concatenated shard lists, each id once (an id
    a k-means upsert is moving can briefly sit in two shards); empty slots are ``NO_LABEL``
    with distance inf. Vectorised: rows sorted by (id, distance), repeats of an id dropped,
    then the k nearest taken."""
    by_id = np.lexsort((distances, labels), axis=-1)
    labels = np.take_along_axis(labels, by_id, axis=1)
    distances = np.take_along_axis(distances, by_id, axis=1).copy()
    distances[:, 1:][labels[:, 1:] == labels[:, :-1]] = np.inf
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    labels = np.take_along_axis(labels, nearest, axis=1)
    distances = np.take_along_axis(distances, nearest, axis=1)
    labels[~np.isfinite(distances)] = NO_LABEL
    return labels, distances
