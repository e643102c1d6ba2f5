"""Settings to a model object: `Embedder`/`Reranker` in this process, or `RemoteEmbedder`/`RemoteReranker`
when the settings name a server (`base_url`). One rule for the adapters, Ray, the command line and the index."""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgumentError
from .model_methods import EmbeddingMethods, RankingMethods
from .settings import EmbedderSettings, ModelSettings, RerankerSettings


def make_model(settings: ModelSettings) -> Any:
    """The embedder or reranker `settings` describe: in this process, or behind `settings.base_url`."""
    if isinstance(settings, EmbedderSettings):
        return make_embedder(settings)
    if isinstance(settings, RerankerSettings):
        return make_reranker(settings)
    raise InvalidArgumentError(f"settings must be EmbedderSettings or RerankerSettings, got {type(settings).__name__}")


def make_embedder(settings: EmbedderSettings) -> EmbeddingMethods:
    if settings.served:
        from .remote.embedder import RemoteEmbedder

        return RemoteEmbedder.from_settings(settings)
    from .embedder import Embedder  # torch: only for a model run here

    return Embedder.from_settings(settings)


def make_reranker(settings: RerankerSettings) -> RankingMethods:
    if settings.served:
        from .remote.reranker import RemoteReranker

        return RemoteReranker.from_settings(settings)
    from .reranker import Reranker

    return Reranker.from_settings(settings)
