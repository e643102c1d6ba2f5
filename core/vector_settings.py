"""What an index's vectors depend on, read from any embedder (local or served) or, for Ray's driver,
from the settings alone without loading weights.

An index records these and refuses to be extended or searched with anything else. The same
checkpoint gives the same vectors in-process and behind a server (to float32 rounding), so the
record names the checkpoint, not how it ran or where it lies: an index built through vLLM can be searched in-process
and the other way round, and a local checkpoint is recorded by its fingerprint, never by its path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .checkpoint.identity import checkpoint_identity
from .checkpoint.tokenizer import normalise_source, read_tokenizer
from .pipeline import EmbeddingMethods
from .presets import resolve_task
from .settings import EmbedderSettings
from .validation import check_dim


@dataclass(frozen=True)
class VectorSettings:
    embedding_model: str  # what the checkpoint is: a hub id, or a local folder's fingerprint (checkpoint/identity.py)
    revision: str | None
    dim: int
    instruction: str
    symmetric: bool
    max_length: int

    @classmethod
    def of(cls, embedder: EmbeddingMethods) -> VectorSettings:
        return cls(
            checkpoint_identity(embedder.checkpoint),
            embedder.revision,
            embedder.dim,
            embedder.instruction,
            embedder.symmetric,
            embedder.max_length,
        )

    @classmethod
    def from_settings(cls, settings: EmbedderSettings) -> VectorSettings:
        """What the embedder `settings` describe would embed with, without its weights: a local checkpoint's
        config and tokenizer are read, a server is asked which checkpoint it serves."""
        if settings.served:
            from .model_factory import make_embedder  # the remote client reads only the tokenizer

            return cls.of(make_embedder(settings))
        _, config = read_tokenizer("embedding", settings.checkpoint, **settings.hub_access())
        task = resolve_task(settings.instruction)
        return cls(
            checkpoint_identity(normalise_source(settings.checkpoint)),
            settings.revision,
            check_dim(settings.dim, config.hidden_size, settings.checkpoint),
            task.instruction,
            task.symmetric if settings.symmetric is None else settings.symmetric,
            settings.max_length,
        )

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
