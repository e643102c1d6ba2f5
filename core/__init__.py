"""qwen3-rag: exact, fast Qwen3-Embedding and Qwen3-Reranker for RAG frameworks.

`from qwen3_rag import Embedder, Reranker`. Framework adapters live in `qwen3_rag.integrations`;
importing this package imports no RAG framework.

The model classes are imported on first use: `import qwen3_rag` (and so `qwen3-rag --help`, or
a command that needs only one of torch and LanceDB) does not pay for torch, which takes seconds.

Layers (the file map in docs/development.md): `checkpoint/` reads checkpoints without torch; `kernels/` runs them in
this process and `remote/` on a server, both behind `backend.py`; `model_methods.py` is what every
embedder and reranker does around them; `settings.py` is the one settings object each model is made
from; `local_index/`, `evaluation/` and `cli/` use any of them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# MKL's strict reproducible mode: a float32 product gives the same bits on any number of threads, so
# the thread count may follow the machine's load without changing a vector (kernels/threads.py).
# MKL reads it at its first product, so it is set here, before torch loads; a user's value is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

from .errors import (
    InvalidArgumentError,
    InvalidInputError,
    ModelLoadError,
    NonFiniteOutputError,
    Qwen3RagError,
    RemoteServerError,
    UnknownArgumentError,
)
from .lazy import exports_on_use
from .presets import PRESETS, Task
from .registry import DEFAULT_EMBEDDING_MODEL, DEFAULT_INSTRUCTION, DEFAULT_RERANKER_MODEL, KNOWN_CHECKPOINTS

if TYPE_CHECKING:
    from .embedder import Embedder
    from .quantization import PRECISIONS, calibration_ranges, quantize_embeddings
    from .remote import RemoteEmbedder, RemoteReranker
    from .reranker import Ranked, Reranker

__version__ = "0.1.0"

__getattr__, __dir__ = exports_on_use(
    globals(),
    {
        "Embedder": ".embedder",
        "Ranked": ".reranker",
        "Reranker": ".reranker",
        "RemoteEmbedder": ".remote",
        "RemoteReranker": ".remote",
        "PRECISIONS": ".quantization",  # NumPy: 70 ms that `import qwen3_rag` and `--help` need not pay
        "calibration_ranges": ".quantization",
        "quantize_embeddings": ".quantization",
    },
)

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_INSTRUCTION",
    "DEFAULT_RERANKER_MODEL",
    "KNOWN_CHECKPOINTS",
    "PRECISIONS",
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
    "UnknownArgumentError",
    "calibration_ranges",
    "quantize_embeddings",
]
