"""Models served elsewhere (vLLM first), behind the same API as the in-process `Embedder` and `Reranker`.

`backend.py` implements the token-level contract over HTTP (`http.py`, which treats every reply as
hostile); the classes add only their constructors to the shared pipeline. May import: `checkpoint/`,
`pipeline`, `backend` and the core's plain modules. Never torch or `kernels/`.
"""

from .embedder import RemoteEmbedder
from .http import Server
from .reranker import SERVE_HINT, RemoteReranker

__all__ = ["SERVE_HINT", "RemoteEmbedder", "RemoteReranker", "Server"]
