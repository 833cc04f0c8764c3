"""geodex: HNSW vector search.

``geodex.Index`` and ``geodex.BFIndex`` follow hnswlib's Python API, so existing code runs with
``import geodex as hnswlib``. Distances follow hnswlib's conventions: squared L2 for ``'l2'``,
``1 - <a, b>`` for ``'ip'``, ``1 - cos`` for ``'cosine'`` (vectors normalised on insert and
query). Bad input raises ``geodex.InputError``, which is both a ``ValueError`` and the
``RuntimeError`` hnswlib raises for the same input.

``geodex.open(path)`` opens any geodex index file (from ``geodex build`` or ``save_index``)
read-only and memory-mapped, in its own element type (float32 or uint8) and metric (including
``poincare``), for search restricted to a key set and with per-search work statistics.
"""

from geodex._native import BFIndex, Index, IndexFile, InputError, __version__, open

__all__ = ["BFIndex", "Index", "IndexFile", "InputError", "__version__", "open"]
