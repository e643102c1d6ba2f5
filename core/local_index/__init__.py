"""A folder index in LanceDB: text files chunked by tokens, embedded, searched by vector (and full text).

Used by the `qwen3-rag index` and `qwen3-rag search` commands; no RAG framework involved. The
names below are imported on first use: searching needs LanceDB but not the builder's torch.

Any embedder builds it, local or served: the index reads the public embedder API (`model_methods.py`)
and records `VectorSettings`. May import: `model_methods`, `vector_settings` and the core's plain modules.
Never `kernels/` (checked by tests/test_packaging.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports_on_use

if TYPE_CHECKING:
    from .builder import IndexReport, index_settings, update_index
    from .chunking import Chunk, chunk_section
    from .search import Found, Hit
    from .store import IndexStore
    from .walk import FileText, Section, Walk, read_file

__getattr__, __dir__ = exports_on_use(
    globals(),
    {
        "IndexReport": ".builder",
        "index_settings": ".builder",
        "update_index": ".builder",
        "Chunk": ".chunking",
        "chunk_section": ".chunking",
        "FileText": ".walk",
        "Section": ".walk",
        "Walk": ".walk",
        "read_file": ".walk",
        "Found": ".search",
        "Hit": ".search",
        "IndexStore": ".store",
    },
)

__all__ = [
    "Chunk",
    "FileText",
    "Found",
    "Hit",
    "IndexReport",
    "IndexStore",
    "Section",
    "Walk",
    "chunk_section",
    "index_settings",
    "read_file",
    "update_index",
]
