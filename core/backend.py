"""The seam between the facades and whatever runs the model: token ids in, vectors or log-odds out.

`Embedder` and `RemoteEmbedder`, `Reranker` and `RemoteReranker` share one pipeline
(`model_methods.py`): format the prompts, tokenize, compute each distinct sequence once, put results
back in input order, warn about cut texts. Only who runs the model differs, behind these two
protocols: the in-process kernels (`kernels/local_backend.py`) or an HTTP server (`remote/served_backend.py`).
A backend plans its own batches (a token budget for a device, a request size for a server).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

Advance = Callable[[int], None]  # told how many more sequences are done, for a progress bar


def nothing(count: int) -> None:
    """An `Advance` for calls without a progress bar."""


class Opened(Protocol):
    """What every backend says about the checkpoint it runs."""

    @property
    def tokenizer(self) -> Tokenizer:
        """The checkpoint's own tokenizer (the ids sent to the backend come from it)."""

    @property
    def name(self) -> str:
        """The model as messages name it: a hub id or local directory here, the served id on a server."""

    @property
    def checkpoint(self) -> str:
        """Where the weights come from (hub id or local directory), served or not."""

    @property
    def revision(self) -> str | None:
        """The hub revision pinned, if any."""

    @property
    def context_length(self) -> int | None:
        """The most tokens per sequence the runner takes (a server's own limit); None: no limit of its own."""


class EmbeddingBackend(Opened, Protocol):
    """Runs a Qwen3-Embedding checkpoint on token ids."""

    @property
    def hidden_size(self) -> int:
        """The full vector size (the largest `dim`)."""

    def embed(self, rows: list[list[int]], dim: int, advance: Advance = nothing) -> NDArray[np.float32]:
        """Unit vectors (len(rows), dim) of sequences ending in <|endoftext|>: last-token pooled, cut to
        `dim`, then L2-normalised. Row i answers rows[i]."""

    async def aembed(self, rows: list[list[int]], dim: int) -> NDArray[np.float32]:
        """`embed` without blocking the event loop."""


class ScoringBackend(Opened, Protocol):
    """Runs a Qwen3-Reranker checkpoint on one shared prompt head and many tails."""

    def score(self, head: list[int], tails: list[list[int]], advance: Advance = nothing) -> NDArray[np.float32]:
        """Log-odds logit(yes) - logit(no) of `head + tails[i]`, for every i, in order."""

    async def ascore(self, head: list[int], tails: list[list[int]]) -> NDArray[np.float32]:
        """`score` without blocking the event loop."""
