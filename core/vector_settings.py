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
from .model_methods import EmbeddingMethods
from .resolved import ResolvedEmbedding
from .settings import EmbedderSettings


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
        return cls.recording(embedder.checkpoint, embedder.revision, embedder.resolved)

    @classmethod
    def from_settings(cls, settings: EmbedderSettings) -> VectorSettings:
        """What the embedder `settings` describe would embed with, without its weights: a local checkpoint's
        config and tokenizer are read, a server is asked which checkpoint it serves; then the settings are
        resolved as the embedder itself resolves them (`ResolvedEmbedding`)."""
        if settings.served:
            from .remote.embedder import RemoteEmbedder  # the served backend reads only the tokenizer

            backend = RemoteEmbedder.open_backend(settings)
            return cls.recording(backend.checkpoint, backend.revision, ResolvedEmbedding.of_backend(settings, backend))
        _, config = read_tokenizer("embedding", settings.checkpoint, **settings.hub_access())
        resolved = ResolvedEmbedding.of(settings, config.hidden_size, settings.checkpoint)
        return cls.recording(normalise_source(settings.checkpoint), settings.revision, resolved)

    @classmethod
    def recording(cls, checkpoint: str, revision: str | None, resolved: ResolvedEmbedding) -> VectorSettings:
        """The record of vectors from `checkpoint` (by its identity, never its path) resolved as `resolved`."""
        return cls(
            checkpoint_identity(checkpoint),
            revision,
            resolved.dim,
            resolved.task.instruction,
            resolved.symmetric,
            resolved.max_length,
        )

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
