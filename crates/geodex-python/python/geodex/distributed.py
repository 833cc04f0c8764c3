"""geodex on Ray: a sharded index with replicas, routing and failure recovery.

``ShardedIndex`` splits the vectors over ``num_shards`` shards. Each shard is held by
``replicas`` Ray actors (``ShardReplica``), each with its own ``geodex.DurableIndex`` in its own
directory: a write is logged and fsynced by every live replica of its shard before
``add_items`` or ``delete_items`` returns, so an acknowledged write survives the death of any
replica that acknowledged it. A query goes to one replica per shard (round robin) and is
retried on another replica of the same shard when its actor dies mid-query; the dead replica is
then restarted from its saved index and log on the node it ran on, and the writes it missed
while it was down are replayed into it before it serves again. A replica whose storage is lost
or damaged, or whose node has left the cluster, is rebuilt from a snapshot of a live peer.

Routing: ``'random'`` spreads ids over the shards by a hash of the id and the seed (no table to
keep; deletes go straight to the shard), and a query asks every shard. ``'kmeans'`` sends each
vector to the shard of its nearest centroid (``geodex.kmeans`` on a sample of the first batch,
or on ``train(sample)``), and a query asks only the ``nprobe`` shards whose centroids are
nearest to it. k-means cells cut through neighbourhoods, so a vector near a boundary can also
be stored in the neighbouring cells (``boundary_epsilon``): SPANN's closure assignment, with
its RNG rule as an option (Chen et al., NeurIPS 2021, §3.2). Under every routing, the per-shard top-k lists
are merged exactly (by distance, each id once).

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
Element = Literal["float32", "uint8"]
Space = Literal["l2", "ip", "cosine"]

#: Keys of empty result slots (a shard holding fewer than k vectors), as in ``geodex.open``.
NO_LABEL = np.iinfo(np.uint64).max

#: Rows of the first batch the k-means router trains on when ``train`` was not called.
KMEANS_SAMPLE = 20_000

#: Files of the storage directory beside the shards: the index's shape, the router's centroids.
MANIFEST, CENTROIDS = "sharded.json", "centroids.npy"

#: Values of manifest keys added after the first release, for directories written before them.
MANIFEST_DEFAULTS = {"boundary_epsilon": 0.0, "max_copies": 1, "rng_rule": False, "dtype": "float32"}


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
    existing path replays the log, so a restarted replica holds every write it acknowledged; a
    replica whose storage is gone or cannot be opened says so (``storage``) and is rebuilt from
    a live peer's ``snapshot`` (``restore``)."""

    def __init__(self, config: ReplicaConfig) -> None:
        self._config = config
        self._index: geodex.DurableIndex | None = None
        self._damage: str | None = None
        os.makedirs(os.path.dirname(config.path), exist_ok=True)
        if os.path.exists(config.path):
            try:
                self._index = self._open()
            except (ValueError, OSError, RuntimeError) as error:
                self._damage = f"{type(error).__name__}: {error}"

    def _open(self) -> geodex.DurableIndex:
        return geodex.DurableIndex(self._config.path, self._config.sync, self._config.num_threads)

    def storage(self) -> str:
        """``'index'`` (an index is open), ``'empty'`` (no file: nothing written yet, or the
        storage was lost) or the error that kept the file from opening."""
        if self._damage is not None:
            return self._damage
        return "empty" if self._index is None else "index"

    def snapshot(self) -> bytes:
        """The index as one file's bytes, every acknowledged write included (checkpoints first,
        so the log it would need is empty)."""
        if self._index is None:
            raise ValueError("this replica holds no index to copy")
        self._index.checkpoint()
        with open(self._config.path, "rb") as f:
            return f.read()

    def restore(self, snapshot: bytes) -> int:
        """Replaces this replica's storage by a peer's ``snapshot`` and opens it; returns the
        live count. The old file goes first, then its log (records of the old state must not
        replay onto the copy), then the copy lands atomically: a crash midway leaves a replica
        that reports ``'empty'`` and is rebuilt again."""
        self._index, self._damage = None, None
        for stale in (self._config.path, f"{self._config.path}.wal"):
            if os.path.exists(stale):
                os.remove(stale)
        atomic_write(self._config.path, snapshot)
        self._index = self._open()
        return len(self._index)

    def node_id(self) -> str:
        """The Ray node this replica runs on (its storage is there)."""
        return ray.get_runtime_context().get_node_id()

    def upsert(self, ids: npt.NDArray[np.uint64], data: npt.NDArray[Any]) -> int:
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
        self, queries: npt.NDArray[Any], k: int, ef: int
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
    log — and one of another shape is refused); ``M``, ``ef_construction``, ``seed`` and
    ``num_threads`` are each shard's build parameters; ``dtype='uint8'`` (L2 only) keeps
    byte vectors such as SIFT's as bytes in the shards — a byte index, a quarter of the
    memory and the byte kernels — and takes integer components in [0, 255]; under k-means routing
    ``boundary_epsilon`` (ε ≥ 0) and ``max_copies`` also store a vector in each further shard
    whose centroid lies within (1 + ε) of its distance to the nearest centroid (up to
    ``max_copies`` shards in all; with ``rng_rule``, skipping a shard whose centroid is nearer
    an already chosen centroid than to the vector, as SPANN does — off by default: with a few
    large cells in 128 to 384 dimensions the centroids lie nearer each other than the vectors
    do, and the rule then blocks every copy); ``sync=False`` skips the fsync per write (durable against the
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
        boundary_epsilon: float = 0.0,
        max_copies: int = 1,
        rng_rule: bool = False,
        dtype: Element = "float32",
        actor_options: dict[str, Any] | None = None,
    ) -> None:
        if dim < 1 or num_shards < 1 or replicas < 1:
            raise ValueError("dim, num_shards and replicas must be ≥ 1")
        if not (boundary_epsilon >= 0 and np.isfinite(boundary_epsilon)) or max_copies < 1:
            raise ValueError("boundary_epsilon must be finite and ≥ 0, max_copies ≥ 1")
        if dtype not in ("float32", "uint8") or (dtype == "uint8" and space != "l2"):
            raise ValueError(f"dtype must be 'float32', or 'uint8' under space='l2', not {dtype!r}")
        if max_copies > 1 and routing != "kmeans":
            raise ValueError("boundary copies (max_copies > 1) need routing='kmeans'")
        if space not in ("l2", "ip", "cosine"):
            raise ValueError(f"space must be 'l2', 'ip' or 'cosine', not {space!r}")
        if routing not in ("random", "kmeans"):
            raise ValueError(f"routing must be 'random' or 'kmeans', not {routing!r}")
        self.dim, self.space, self.num_shards, self.routing = dim, space, num_shards, routing
        self.seed = seed
        self.boundary_epsilon, self.max_copies = float(boundary_epsilon), min(max_copies, num_shards)
        self.rng_rule = bool(rng_rule)
        self.dtype: Element = dtype
        self.ef = 64
        self.centroids: npt.NDArray[np.float32] | None = None
        self.last_query_stats: dict[str, float] = {}
        self._storage = str(storage_path or tempfile.mkdtemp(prefix="geodex-sharded-"))
        self._actor_options = {"num_cpus": 0, **(actor_options or {})}
        self._shard_of: dict[int, tuple[int, ...]] = {}  # k-means: the shards holding each id
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
            "boundary_epsilon": self.boundary_epsilon,
            "max_copies": self.max_copies,
            "rng_rule": self.rng_rule,
            "dtype": dtype,
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
                held = {**MANIFEST_DEFAULTS, **json.load(f)}
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
        """After reopening: the next free id and, under k-means routing, each id's shards,
        from the keys the shards hold."""
        holders: dict[int, list[int]] = {}
        for s in range(self.num_shards):
            keys = self._read(s, "keys")
            if len(keys):
                self._next_id = max(self._next_id, int(keys.max()) + 1)
            if self.routing == "kmeans":
                for key in keys.tolist():
                    holders.setdefault(key, []).append(s)
        self._shard_of = {key: tuple(shards) for key, shards in holders.items()}

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

    def _prepared(self, rows: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Rows as the router compares them: float32, of unit length under cosine."""
        rows = rows.astype(np.float32, copy=False)
        if self.space != "cosine":
            return rows
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def shard_of(self, ids: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """A shard holding each id (-1: none): its only one, or under k-means routing with
        boundary copies the lowest-numbered of them (``copies_of`` lists them all)."""
        return np.array([c[0] if c else -1 for c in self.copies_of(ids)], dtype=np.intp)

    def copies_of(self, ids: npt.ArrayLike) -> list[tuple[int, ...]]:
        """Every shard holding each id, ascending (empty: none), as deletes are routed."""
        keys = self._ids(ids, len(np.atleast_1d(np.asarray(ids))))
        if self.routing == "random":
            return [(s,) for s in self._hash_shard(keys).tolist()]
        return [self._shard_of.get(k, ()) for k in keys.tolist()]

    def shards_for(self, data: npt.ArrayLike, nprobe: int = 1) -> npt.NDArray[np.intp]:
        """Under k-means routing, the ``nprobe`` shards whose centroids are nearest each row
        (nearest first): where a vector is stored (``nprobe=1``) and which shards a query asks."""
        if self.routing != "kmeans" or self.centroids is None:
            raise ValueError("shards_for() needs routing='kmeans' with a trained router")
        return self._centroid_order(self._rows(data))[:, :nprobe]

    def _centroid_order(self, rows: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
        """Per row, the shards by distance of their centroid (nearest first)."""
        return np.argsort(self._centroid_distances(rows), axis=1, kind="stable")

    def _centroid_distances(self, rows: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Per row, the squared Euclidean distance to each centroid (rows × shards), in float64
        so that a copy's (1 + ε) threshold is decided on the exact distances."""
        assert self.centroids is not None
        x = self._prepared(rows).astype(np.float64)
        c = self.centroids.astype(np.float64)
        return (x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :]

    def placement(self, data: npt.ArrayLike, rng_rule: bool | None = None) -> npt.NDArray[np.bool_]:
        """Under k-means routing, the shards each row is stored in (rows × shards): its
        nearest centroid's, then — SPANN's closure assignment (Chen et al. 2021, §3.2) — each
        further shard j, nearest first, with ‖x − c_j‖ ≤ (1 + ε)·‖x − c_nearest‖, up to
        ``max_copies`` shards; with ``rng_rule``, not j when a centroid c_i already chosen is
        nearer c_j than x is (‖c_i − c_j‖ < ‖x − c_j‖: SPANN's relative-neighbourhood rule,
        which keeps copies in cells that lie in different directions; ``rng_rule`` other than
        None overrides the index's setting, to see what the rule would keep)."""
        if self.routing != "kmeans" or self.centroids is None:
            raise ValueError("placement() needs routing='kmeans' with a trained router")
        rows = self._rows(data)
        distance = np.sqrt(np.maximum(self._centroid_distances(rows), 0.0))
        order = np.argsort(distance, axis=1, kind="stable")
        every = np.arange(len(rows))
        placed = np.zeros(distance.shape, dtype=bool)
        placed[every, order[:, 0]] = True
        pruning = self.rng_rule if rng_rule is None else rng_rule
        if self.max_copies == 1:
            return placed
        c = self.centroids.astype(np.float64)
        between = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))
        reach = (1.0 + self.boundary_epsilon) * distance[every, order[:, 0]]
        for rank in range(1, self.num_shards):
            j = order[:, rank]
            to_j = distance[every, j]
            blocked = pruning & (placed & (between[:, j].T < to_j[:, None])).any(axis=1)
            add = (to_j <= reach) & ~blocked & (placed.sum(axis=1) < self.max_copies)
            placed[every[add], j[add]] = True
        return placed

    def _hash_shard(self, ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """The shard of each id under random routing: splitmix64(id + seed) mod shards."""
        with np.errstate(over="ignore"):
            z = ids + np.uint64(self.seed) * np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        return (z % np.uint64(self.num_shards)).astype(np.intp)

    # --- input ---------------------------------------------------------------------------

    def _rows(self, data: npt.ArrayLike) -> npt.NDArray[Any]:
        """``data`` as a C-contiguous matrix of the shards' element type, checked: the width,
        finite components, no zero vector under cosine, bytes that are integers in [0, 255]."""
        rows = np.ascontiguousarray(np.atleast_2d(np.asarray(data, dtype=np.float32)))
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"expected rows of {self.dim} components, got shape {np.shape(data)}")
        if not np.isfinite(rows).all():
            raise ValueError("vectors must have finite components")
        if self.space == "cosine" and (np.linalg.norm(rows, axis=1) == 0).any():
            raise ValueError("a zero vector has no direction (cosine)")
        if self.dtype == "float32":
            return rows
        if ((rows < 0) | (rows > 255) | (rows != np.round(rows))).any():
            raise ValueError("dtype='uint8' takes integer components in [0, 255]")
        return rows.astype(np.uint8)

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
            if self.routing == "kmeans":
                placed = self.placement(rows)
            else:
                placed = np.zeros((len(rows), self.num_shards), dtype=bool)
                placed[np.arange(len(rows)), self._hash_shard(keys)] = True
            copies = [tuple(np.flatnonzero(row).tolist()) for row in placed]
            left = self._left(keys, copies)
            calls = [
                (s, "upsert", (keys[placed[:, s]], rows[placed[:, s]]))
                for s in range(self.num_shards)
                if placed[:, s].any()
            ]
            self._write(calls)
            self._write([(s, "delete", (gone,)) for s, gone in left.items()])
            if self.routing == "kmeans":
                self._shard_of.update(zip(keys.tolist(), copies))
            self._next_id = max(self._next_id, int(keys.max()) + 1)

    def _left(self, keys: npt.NDArray[np.uint64], copies: list[tuple[int, ...]]) -> dict[int, npt.NDArray]:
        """Ids a k-means upsert no longer stores in a shard that holds them now, by that shard."""
        left: dict[int, list[int]] = {}
        for key, new in zip(keys.tolist(), copies):
            for s in self._shard_of.get(key, ()):
                if s not in new:
                    left.setdefault(s, []).append(key)
        return {s: np.array(ks, dtype=np.uint64) for s, ks in left.items()}

    def delete_items(self, ids: npt.ArrayLike) -> int:
        """Deletes ``ids`` (unknown ids are ignored); returns how many were deleted."""
        keys = self._ids(ids, len(np.atleast_1d(np.asarray(ids))))
        with self._lock:
            copies = self.copies_of(keys)
            calls = [
                (s, "delete", (keys[[s in c for c in copies]],))
                for s in range(self.num_shards)
                if any(s in c for c in copies)
            ]
            deleted = self._write(calls)
            if self.routing == "random":
                return sum(deleted)
            return sum(1 for k in keys.tolist() if self._shard_of.pop(k, None))

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
        self, rows: npt.NDArray[Any], asked: npt.NDArray[np.intp], k: int, ef: int
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
        """Restarts every dead replica on its node, or where Ray places it when its node has
        left the cluster. One that reopens its saved index and log replays the writes it
        missed; one whose storage is gone or damaged (or left with its node) is rebuilt from a
        snapshot of a live peer that holds an index (which has every write it missed), after
        the peers that reopened. Returns the replayed calls' answers by their tokens."""
        answers: dict[object, Any] = {}
        if all(rep.alive for shard in self._shards for rep in shard):
            return answers
        nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
        for shard in self._shards:
            dead = [rep for rep in shard if not rep.alive]
            for rep in dead:
                options = dict(self._actor_options)
                if rep.node in nodes:
                    options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                        node_id=rep.node, soft=False
                    )
                rep.actor = RemoteReplica.options(**options).remote(rep.config)
                rep.node = ray.get(rep.actor.node_id.remote())
            storage = ray.get([rep.actor.storage.remote() for rep in dead])
            lost = [rep for rep, held in zip(dead, storage) if held != "index"]
            for rep in dead:
                if rep not in lost:
                    self._replay(rep, answers)
            for rep in lost:
                donors = [
                    peer for peer in shard if peer.alive and ray.get(peer.actor.storage.remote()) == "index"
                ]
                if donors:
                    ray.get(rep.actor.restore.remote(donors[0].actor.snapshot.remote()))
                    rep.missed.clear()
                    rep.alive = True
                else:
                    self._replay(rep, answers)
        return answers

    @staticmethod
    def _replay(rep: Replica, answers: dict[object, Any]) -> None:
        """Sends a restarted replica the writes it missed, in order, and marks it alive."""
        for token, method, args in rep.missed:
            answers[token] = ray.get(getattr(rep.actor, method).remote(*args))
        rep.missed.clear()
        rep.alive = True

    def replica_actors(self, shard: int) -> list[Any]:
        """The Ray actor handles of shard ``shard``'s replicas (for operators and tests)."""
        return [r.actor for r in self._shards[shard]]

    def checkpoint(self) -> None:
        """Saves every replica's index and empties its log."""
        self._write([(s, "checkpoint", ()) for s in range(self.num_shards)])

    def get_current_count(self) -> int:
        """Live vectors over all shards (as one live replica of each reports), each id once
        however many boundary copies it has."""
        if self.max_copies == 1:
            return sum(self.shard_counts())
        keys = [self._read(s, "keys") for s in range(self.num_shards)]
        return len(np.unique(np.concatenate(keys)))

    def __len__(self) -> int:
        return self.get_current_count()

    def shard_counts(self) -> list[int]:
        """Live vectors per shard (boundary copies included)."""
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
