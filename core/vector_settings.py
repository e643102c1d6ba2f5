"""What an index's vectors depend on, read from any embedder (local or served) or, for Ray's driver,
from the settings alone without loading weights.

An index records these and refuses to be extended or searched with anything else. The same
checkpoint gives the same vectors in-process and behind a server (to float32 rounding), so the
record names the checkpoint, not how it ran: an index built through vLLM can be searched in-process
and the other way round.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checkpoint.tokenizer import normalise_source, read_tokenizer
from .pipeline import EmbeddingMethods
from .presets import resolve_task
from .registry import DEFAULT_EMBEDDING_MODEL
from .validation import check_bool, check_dim, check_positive_int

DEFAULT_MAX_LENGTH = 8192  # Embedder's and RemoteEmbedder's default


@dataclass(frozen=True)
class VectorSettings:
    embedding_model: str  # the checkpoint: a hub id or a resolved local directory
    revision: str | None
    dim: int
    instruction: str
    symmetric: bool
    max_length: int

    @classmethod
    def of(cls, embedder: EmbeddingMethods) -> VectorSettings:
        return cls(
            embedder.checkpoint,
            embedder.revision,
            embedder.dim,
            embedder.instruction,
            embedder.symmetric,
            embedder.max_length,
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> VectorSettings:
        """What `Embedder(**settings)` (or `RemoteEmbedder`, with `base_url`) would embed with, without its
        weights: a local checkpoint's config and tokenizer are read, a server is asked which it serves."""
        if settings.get("base_url") is not None:
            from .embedder import Embedder
            from .model_factory import make_model  # the remote client reads only the tokenizer

            return cls.of(make_model(Embedder, settings))
        model = settings.get("model") or DEFAULT_EMBEDDING_MODEL
        revision = settings.get("revision")
        _, config = read_tokenizer(
            "embedding",
            model,
            revision=revision,
            token=settings.get("token"),
            local_files_only=bool(settings.get("local_files_only")),
        )
        task = resolve_task(settings.get("instruction"))
        symmetric = settings.get("symmetric")
        return cls(
            normalise_source(model),
            revision,
            check_dim(settings.get("dim"), config.hidden_size, model),
            task.instruction,
            task.symmetric if symmetric is None else check_bool(symmetric, "symmetric"),
            check_positive_int(settings.get("max_length", DEFAULT_MAX_LENGTH), "max_length", minimum=2),
        )

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
