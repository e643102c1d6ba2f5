"""qwen3-rag: exact, fast Qwen3-Embedding and Qwen3-Reranker for RAG frameworks.

`from qwen3_rag import Embedder, Reranker`. Framework adapters live in `qwen3_rag.integrations`;
importing this package imports no RAG framework.
"""

from .embedder import DEFAULT_EMBEDDING_MODEL, Embedder
from .errors import (
    InvalidArgumentError,
    InvalidInputError,
    ModelLoadError,
    NonFiniteOutputError,
    Qwen3RagError,
    RemoteServerError,
)
from .presets import PRESETS, Task
from .registry import DEFAULT_INSTRUCTION
from .remote import RemoteEmbedder, RemoteReranker
from .reranker import DEFAULT_RERANKER_MODEL, Ranked, Reranker

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_INSTRUCTION",
    "DEFAULT_RERANKER_MODEL",
    "PRESETS",
    "Embedder",
    "InvalidArgumentError",
    "InvalidInputError",
    "ModelLoadError",
    "NonFiniteOutputError",
    "Qwen3RagError",
    "Ranked",
    "RemoteEmbedder",
    "RemoteReranker",
    "RemoteServerError",
    "Reranker",
    "Task",
]
