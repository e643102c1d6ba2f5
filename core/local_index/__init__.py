"""A folder index in LanceDB: text files chunked by tokens, embedded, searched by vector (and full text).

Used by the `qwen3-rag index` and `qwen3-rag search` commands; no RAG framework involved.
"""

from .builder import IndexReport, index_settings, update_index
from .chunking import Chunk, chunk_section
from .files import FileText, Section, Walk, read_file
from .search import Found, Hit
from .store import IndexStore

__all__ = ["Chunk", "FileText", "Found", "Hit", "IndexReport", "IndexStore", "Section", "Walk", "chunk_section",
           "index_settings", "read_file", "update_index"]
