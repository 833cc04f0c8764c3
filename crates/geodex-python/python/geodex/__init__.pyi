"""Type stubs of geodex (hnswlib-compatible API)."""

import os
from collections.abc import Iterable
from typing import Any, Callable, Literal, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import TypeAlias

__version__: str

ArrayLike = npt.ArrayLike
Labels: TypeAlias = npt.NDArray[np.uint64]
Distances: TypeAlias = npt.NDArray[np.float32]
Filter: TypeAlias = Callable[[int], bool] | None

class InputError(ValueError, RuntimeError):
    """Bad input: a wrong shape, dimension, value or parameter."""

class Index:
    """An HNSW index with hnswlib's API: ``Index(space, dim)``, then ``init_index`` or ``load_index``."""

    def __init__(self, space: Literal["l2", "ip", "cosine"], dim: int) -> None: ...
    def init_index(
        self,
        max_elements: int,
        M: int = 16,
        ef_construction: int = 200,
        random_seed: int = 100,
        allow_replace_deleted: bool = False,
    ) -> None:
        """Initialise an empty index of capacity ``max_elements``."""
    def add_items(
        self,
        data: ArrayLike,
        ids: ArrayLike | None = None,
        num_threads: int = -1,
        replace_deleted: bool = False,
    ) -> None:
        """Insert rows (n x dim, or one row); an existing label gets the new vector."""
    def knn_query(
        self, data: ArrayLike, k: int = 1, num_threads: int = -1, filter: Filter = None
    ) -> tuple[Labels, Distances]:
        """The k nearest labels of every row and their distances, two (n, k) arrays."""
    def mark_deleted(self, label: int) -> None:
        """Hide ``label`` from searches (``unmark_deleted`` restores it)."""
    def unmark_deleted(self, label: int) -> None:
        """Return a deleted label to the searches."""
    def resize_index(self, new_size: int) -> None:
        """Change the capacity (not below the element count)."""
    @overload
    def get_items(
        self, ids: ArrayLike, return_type: Literal["numpy"] = "numpy"
    ) -> npt.NDArray[np.float32]: ...
    @overload
    def get_items(self, ids: ArrayLike, return_type: Literal["list"]) -> list[list[float]]: ...
    def get_ids_list(self) -> list[int]:
        """Every label held, deleted ones included."""
    def set_ef(self, ef: int) -> None:
        """Beam width of queries (at least k is used)."""
    def set_num_threads(self, num_threads: int) -> None:
        """Default threads of add_items and knn_query."""
    def save_index(self, path_to_index: str) -> None:
        """Save atomically (geodex's index format)."""
    def load_index(
        self, path_to_index: str, max_elements: int = 0, allow_replace_deleted: bool = False
    ) -> None:
        """Load a saved index (or one built by the geodex CLI) in place of this one."""
    def get_max_elements(self) -> int: ...
    def get_current_count(self) -> int: ...
    def index_file_size(self) -> int:
        """Bytes the index takes when saved."""
    @property
    def space(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def ef(self) -> int: ...
    @ef.setter
    def ef(self, value: int) -> None: ...
    @property
    def num_threads(self) -> int: ...
    @num_threads.setter
    def num_threads(self, value: int) -> None: ...
    @property
    def max_elements(self) -> int: ...
    @property
    def element_count(self) -> int: ...
    @property
    def M(self) -> int: ...
    @property
    def ef_construction(self) -> int: ...
    @property
    def byte_walk(self) -> bool:
        """geodex only: once the graph is packed for search, l2 and cosine indexes walk it on
        one-byte codes of the vectors and re-rank the whole beam on the float vectors (results
        and distances exact as without it; a quarter of the memory traffic). On by default."""
    @byte_walk.setter
    def byte_walk(self, value: bool) -> None: ...
    def __reduce__(self) -> tuple[Any, tuple[str, int], dict]: ...
    def __setstate__(self, state: dict) -> None: ...

class BFIndex:
    """Exact search with hnswlib's BFIndex API."""

    def __init__(self, space: Literal["l2", "ip", "cosine"], dim: int) -> None: ...
    def init_index(self, max_elements: int) -> None: ...
    def add_items(self, data: ArrayLike, ids: ArrayLike | None = None) -> None: ...
    def delete_vector(self, label: int) -> None:
        """Remove ``label`` (unknown labels are ignored)."""
    def knn_query(
        self, data: ArrayLike, k: int = 1, num_threads: int = -1, filter: Filter = None
    ) -> tuple[Labels, Distances]: ...
    def set_num_threads(self, num_threads: int) -> None: ...
    def save_index(self, path_to_index: str) -> None: ...
    def load_index(self, path_to_index: str, max_elements: int = 0) -> None: ...
    def get_max_elements(self) -> int: ...
    def get_current_count(self) -> int: ...
    @property
    def space(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def num_threads(self) -> int: ...
    @num_threads.setter
    def num_threads(self, value: int) -> None: ...
    def __reduce__(self) -> tuple[Any, tuple[str, int], dict]: ...
    def __setstate__(self, state: dict) -> None: ...

class IndexFile:
    """A geodex index file opened read-only and memory-mapped (``geodex.open``): float32 or
    uint8 vectors, any metric (``l2``, ``ip``, ``cosine``, ``poincare``), quantised or not."""

    def search(
        self,
        queries: ArrayLike,
        k: int = 10,
        ef: int = 64,
        allowed: ArrayLike | None = None,
        num_threads: int = 1,
        rerank: int = 0,
        rerank_bound: float | None = None,
    ) -> tuple[Labels, Distances, dict[str, float]]:
        """The ``k`` nearest keys of every row of ``queries`` (float32 for a float index, uint8
        for a byte index; 1-D is one query) with beam width ``ef``; ``allowed`` restricts the
        results to those keys; ``rerank`` (quantised index) re-ranks the best max(rerank, k)
        candidates of the walk on codes with exact distances; ``rerank_bound`` (RaBitQ index)
        re-ranks by the codes' error bound with this epsilon0 (1.9 is the paper's) instead of a
        fixed count. Returns keys (uint64, (n, k)),
        geodex's distances (float32: squared L2, -<a, b>, 1 - cos, Poincaré) and
        ``{'mean_distances', 'mean_hops', 'mean_reranked', 'exact_scans'}``."""
    def items(self) -> tuple[Labels, npt.NDArray[Any]]:
        """Every live key and its stored vector (float32 or uint8; unit length under cosine)."""
    def __len__(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def element(self) -> str:
        """``'f32'`` or ``'u8'``."""
    @property
    def quantizer(self) -> str: ...
    @property
    def links(self) -> Literal["fixed", "compressed"]:
        """How level 0's links are stored: ``'fixed'`` rows or ``'compressed'`` lists."""
    @property
    def byte_walk(self) -> bool: ...
    @property
    def link_code_bytes(self) -> int:
        """Bytes of a PQ4 index's per-list code blocks (``open(..., link_codes=True)``), else 0."""
    @property
    def metadata(self) -> dict[str, Any]: ...

def open(path: str | os.PathLike[str], *, byte_walk: bool = True, link_codes: bool = False) -> IndexFile:
    """Open a geodex index file (from ``geodex build``, ``save_index`` or a living index)
    read-only and memory-mapped; its write-ahead log, if any, is replayed in memory. A float
    index under L2 or cosine walks one-byte codes of its vectors (made now, n·dim bytes) and
    re-ranks its beam exactly, unless ``byte_walk`` is False. With ``link_codes`` a PQ4 index
    (``quantizer="pq4"``) also keeps each node's level-0 neighbours' codes in fast-scan blocks
    (made now, M0·m/2 bytes per vector) and scores a whole list per SIMD lookup; other indexes
    raise ``InputError``."""

def build(
    path: str | os.PathLike[str],
    data: ArrayLike,
    *,
    metric: Literal["l2", "ip", "cosine", "poincare"] = "l2",
    keys: ArrayLike | None = None,
    M: int = 16,
    ef_construction: int = 200,
    seed: int = 42,
    quantizer: Literal["none", "sq8", "pq8", "pq4", "proj", "proj-sparse", "proj-orth", "rabitq"]
    | str = "none",
    pq_m: int | None = None,
    num_threads: int | None = None,
    links: Literal["fixed", "compressed"] = "fixed",
) -> IndexFile:
    """Build an index over the rows of ``data`` (a 2-D uint8 array makes a byte index, anything
    else float32), save it atomically to ``path`` and return it opened. ``keys`` (uint64, one
    per row) default to row numbers; ``quantizer`` keeps codes the search walks on (re-rank
    with ``IndexFile.search(rerank=...)``; ``"rabitq:BITS"`` is RaBitQ with 1 to 8 bits per
    dimension, whose error bound ``search(rerank_bound=...)`` re-ranks by); ``links="compressed"`` stores level 0 gap-coded
    (about half the graph's bytes, the same search); one thread and one seed give the same
    file."""

class DurableIndex:
    """An index file open for writes through its write-ahead log (``<path>.wal``): every
    ``upsert`` and ``delete`` is logged and fsynced before it is applied and returns, so it
    survives a crash of the process; ``checkpoint`` saves the file and empties the log."""

    def __init__(
        self, path: str | os.PathLike[str], sync: bool = True, num_threads: int | None = None
    ) -> None:
        """Open the index file at ``path`` and replay its log; ``sync=False`` skips the
        fsync per commit (durable against a crash of the process, not of the machine);
        ``num_threads`` link inserted rows, the replay's included (default: all cores; with
        one, the same writes give the same index)."""
    def upsert(self, keys: ArrayLike, vectors: ArrayLike) -> int:
        """Insert or replace the rows of ``vectors`` under ``keys``; returns the log sequence
        number of the batch. A batch the index would reject raises before anything is logged."""
    def delete(self, keys: ArrayLike) -> tuple[int, int]:
        """Delete ``keys``; returns ``(deleted, missing)``."""
    def checkpoint(self) -> None:
        """Save the index atomically and empty the log."""
    def compact(self) -> int:
        """Drop deleted nodes and checkpoint; returns how many were removed."""
    def search(
        self,
        queries: ArrayLike,
        k: int = 10,
        ef: int = 64,
        allowed: ArrayLike | None = None,
        num_threads: int = 1,
        rerank: int = 0,
        rerank_bound: float | None = None,
    ) -> tuple[Labels, Distances, dict[str, float]]:
        """As ``IndexFile.search``, seeing every acknowledged write."""
    @property
    def replayed(self) -> int:
        """Log records replayed when this index was opened."""
    def keys(self) -> npt.NDArray[np.uint64]:
        """Every live key, in node order."""
    @property
    def dim(self) -> int: ...
    def info(self) -> dict[str, Any]:
        """``{'path', 'lsn'}``: the file and the last applied log sequence number."""
    def __len__(self) -> int: ...

def kmeans(
    data: ArrayLike, k: int, *, max_iterations: int = 25, seed: int = 0
) -> tuple[npt.NDArray[np.float32], float]:
    """Train ``k`` centroids on the rows of ``data`` (k-means++ seeding, then Lloyd); returns
    ``(centroids (k, dim), mse)``. The same seed gives the same centroids."""

def embed_hierarchy(
    pairs: str | os.PathLike[str] | Iterable[tuple[str, str]],
    *,
    model: Literal["poincare", "lorentz", "euclidean", "sarkar"] = "poincare",
    dim: int = 10,
    epochs: int = 400,
    lr: float = 0.3,
    lr_schedule: Literal["constant", "linear"] = "constant",
    negatives: int = 50,
    local_negatives: float = 0.0,
    hard_negatives: float = 0.0,
    burn_in: int = 10,
    seed: int = 0,
    num_threads: int = 1,
    tau: float | None = None,
) -> tuple[list[str], npt.NDArray[np.float32], dict[str, Any]]:
    """Embed a hierarchy (a TSV file of ``child<TAB>ancestor`` lines or (child, ancestor)
    name pairs, transitively closed) by Riemannian SGD (Nickel & Kiela 2017/2018) or Sarkar's
    construction (Sala et al. 2018's form in ``dim`` ≥ 2 dimensions). Returns node names in row order, the vectors (ball
    coordinates for the hyperbolic models) and ``{'losses'}`` or ``{'tau', 'depth'}``.
    After burn-in, ``lr_schedule="linear"`` lowers the rate linearly from ``lr`` to
    ``lr / (epochs - burn_in)``. ``local_negatives`` (0–1) is the share of negatives drawn
    near each node in the hierarchy (a descendant of one of its ancestors) instead of
    uniformly; ``hard_negatives`` (0–1) the share drawn from each node's 32 nearest
    unrelated nodes in the current embedding, mined every 10 epochs."""
