"""Models served elsewhere (vLLM first), behind the same API as the in-process `Embedder` and `Reranker`.

`served_backend.py` implements the token-level contract over HTTP (`http.py`, which treats every reply as
hostile); the classes add only how to open that backend to the shared methods. May import: `checkpoint/`,
`model_methods`, `backend` and the core's plain modules. Never torch or `kernels/`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports_on_use

if TYPE_CHECKING:
    from .embedder import RemoteEmbedder
    from .http import Server
    from .reranker import SERVE_HINT, RemoteReranker

# Imported on first use: `import qwen3_rag.remote.http` (the client alone) does not build the classes.
__getattr__, __dir__ = exports_on_use(
    globals(),
    {"RemoteEmbedder": ".embedder", "RemoteReranker": ".reranker", "SERVE_HINT": ".reranker", "Server": ".http"},
)

__all__ = ["SERVE_HINT", "RemoteEmbedder", "RemoteReranker", "Server"]
