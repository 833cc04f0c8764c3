"""geodex: HNSW vector search.

``geodex.Index`` and ``geodex.BFIndex`` follow hnswlib's Python API, so existing code runs with
``import geodex as hnswlib``. Distances follow hnswlib's conventions: squared L2 for ``'l2'``,
``1 - <a, b>`` for ``'ip'``, ``1 - cos`` for ``'cosine'`` (vectors normalised on insert and
query). Bad input raises ``geodex.InputError``, which is both a ``ValueError`` and the
``RuntimeError`` hnswlib raises for the same input.

``geodex.build(path, data, ...)`` builds an index file from a float32 or uint8 array (any
metric, including ``poincare``; optionally quantised, searched with exact re-ranking);
``geodex.open(path)`` opens any geodex index file (from ``geodex.build``, ``geodex build`` or
``save_index``) read-only and memory-mapped, for search restricted to a key set and with
per-search work statistics. ``geodex.DurableIndex(path)`` writes to an index file through its
write-ahead log: an acknowledged ``upsert`` or ``delete`` survives a crash of the process.
``geodex.embed_hierarchy(pairs, ...)`` embeds a hierarchy in the Poincaré ball (or the Lorentz
model, Euclidean space, Sarkar's construction) for a ``poincare`` index. ``geodex.kmeans``
trains centroids (k-means++ then Lloyd), and ``geodex.distributed`` (which needs Ray) shards an
index over Ray actors with replicas.
"""

from geodex._native import (
    BFIndex,
    DurableIndex,
    Index,
    IndexFile,
    InputError,
    __version__,
    build,
    embed_hierarchy,
    kmeans,
    open,
)

__all__ = [
    "BFIndex",
    "DurableIndex",
    "Index",
    "IndexFile",
    "InputError",
    "__version__",
    "build",
    "embed_hierarchy",
    "kmeans",
    "open",
]
