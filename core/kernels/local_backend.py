"""The in-process backend (`backend.py`'s contract): a loaded model, batches cut by a token budget.

One forward pass at a time per model (its lock): the device runs one anyway, and the async
variants run the same work in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from ..backend import Advance, nothing
from ..batching import plan_batches
from ..settings import ModelSettings
from .embedding import embed_batch
from .loading import LoadedModel, load_with
from .rerank import score_batches
from .runtime import token_budget


class LocalBackend:
    """What both local backends share: the model and how its batches are cut."""

    def __init__(self, settings: ModelSettings):
        """The shared loaded model `settings` name, and their batch limits (the token budget by device)."""
        self.model: LoadedModel = load_with(settings)
        self.batch_tokens = token_budget(settings.batch_tokens, self.model.device)
        self.batch_size = settings.batch_size

    @property
    def tokenizer(self) -> Tokenizer:
        return self.model.tokenizer

    @property
    def name(self) -> str:
        return self.model.key.source

    @property
    def checkpoint(self) -> str:
        return self.model.key.source

    @property
    def revision(self) -> str | None:
        return self.model.key.revision

    @property
    def context_length(self) -> int | None:
        return None  # the settings' max_length is the only limit here

    @property
    def hidden_size(self) -> int:
        return self.model.hidden_size

    def batches(self, rows: list[list[int]]) -> list[list[int]]:
        return plan_batches(
            [len(row) for row in rows], self.batch_tokens, self.batch_size, padded=not self.model.packs_batches
        )


class LocalEmbedding(LocalBackend):
    def embed(self, rows: list[list[int]], dim: int, advance: Advance = nothing) -> NDArray[np.float32]:
        vectors = np.empty((len(rows), dim), dtype=np.float32)
        with self.model.lock:
            for batch in self.batches(rows):
                vectors[batch] = embed_batch(self.model, [rows[i] for i in batch], dim)
                advance(len(batch))
        return vectors

    async def aembed(self, rows: list[list[int]], dim: int) -> NDArray[np.float32]:
        return await asyncio.to_thread(self.embed, rows, dim)


class LocalScoring(LocalBackend):
    def score(self, head: list[int], tails: list[list[int]], advance: Advance = nothing) -> NDArray[np.float32]:
        def counted(batches: list[list[int]]) -> Iterator[list[int]]:
            for batch in batches:
                yield batch
                advance(len(batch))

        with self.model.lock:
            return score_batches(self.model, head, tails, counted(self.batches(tails)))

    async def ascore(self, head: list[int], tails: list[list[int]]) -> NDArray[np.float32]:
        return await asyncio.to_thread(self.score, head, tails)
