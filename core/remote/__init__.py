"""Models served elsewhere (vLLM first), behind the same API as the in-process `Embedder` and `Reranker`."""

from .embedder import RemoteEmbedder
from .http import Server
from .reranker import SERVE_HINT, RemoteReranker

__all__ = ["SERVE_HINT", "RemoteEmbedder", "RemoteReranker", "Server"]
