"""What a model's settings mean once its checkpoint is known: derived here once, for the local and the
served classes alike and for the index's vector record (`vector_settings.py`).

The settings say what the user asked for (a preset name, a wanted dim, a token limit); only the checkpoint
(its width) and whatever runs it (a server's context length) turn that into what the pipeline uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backend import EmbeddingBackend
from .presets import Task, resolve_task
from .settings import EmbedderSettings, RerankerSettings
from .validation import check_dim


@dataclass(frozen=True)
class ResolvedEmbedding:
    """The task, its side (symmetric or not), the output size and the token limit of an embedder."""

    task: Task
    symmetric: bool
    dim: int
    max_length: int

    @classmethod
    def of(
        cls, settings: EmbedderSettings, hidden_size: int, model_name: str, context_length: int | None = None
    ) -> ResolvedEmbedding:
        """`settings` for a checkpoint `hidden_size` wide whose runner takes at most `context_length` tokens."""
        task = resolve_task(settings.instruction)
        return cls(
            task,
            task.symmetric if settings.symmetric is None else settings.symmetric,
            check_dim(settings.dim, hidden_size, model_name),
            capped(settings.max_length, context_length),
        )

    @classmethod
    def of_backend(cls, settings: EmbedderSettings, backend: EmbeddingBackend) -> ResolvedEmbedding:
        """`settings` for the checkpoint an opened backend runs."""
        return cls.of(settings, backend.hidden_size, backend.name, backend.context_length)


@dataclass(frozen=True)
class ResolvedReranking:
    """The instruction and the token limit of a reranker."""

    instruction: str
    max_length: int

    @classmethod
    def of(cls, settings: RerankerSettings, context_length: int | None = None) -> ResolvedReranking:
        return cls(resolve_task(settings.instruction).instruction, capped(settings.max_length, context_length))


def capped(max_length: int, context_length: int | None) -> int:
    """The caller's token limit, lowered to what the runner accepts (a server's own context length)."""
    return max_length if context_length is None else min(max_length, context_length)
