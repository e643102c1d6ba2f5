"""A folder index on local disk: text files chunked by tokens, embedded, searched by dot product.

Used by the `qwen3-rag index` and `qwen3-rag search` commands; no RAG framework involved.
"""

from .builder import IndexReport, index_settings, update_index
from .chunking import Chunk, chunk_section
from .files import FileText, Section, read_file, walk
from .store import Hit, VectorStore

__all__ = ["Chunk", "FileText", "Hit", "IndexReport", "Section", "VectorStore", "chunk_section", "index_settings",
           "read_file", "update_index", "walk"]
