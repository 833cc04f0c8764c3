"""geodex: HNSW vector search.

``geodex.Index`` and ``geodex.BFIndex`` follow hnswlib's Python API, so existing code runs with
``import geodex as hnswlib``. Distances follow hnswlib's conventions: squared L2 for ``'l2'``,
``1 - <a, b>`` for ``'ip'``, ``1 - cos`` for ``'cosine'`` (vectors normalised on insert and
query). Bad input raises ``geodex.InputError``, which is both a ``ValueError`` and the
``RuntimeError`` hnswlib raises for the same input.
"""

from geodex._native import BFIndex, Index, InputError, __version__

__all__ = ["BFIndex", "Index", "InputError", "__version__"]
