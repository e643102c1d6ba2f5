"""`Reranker`: Qwen3-Reranker scores with the official prompt, computed from the yes/no head only."""

from __future__ import annotations

from typing import Unpack

from .kernels.local_backend import LocalScoring
from .local_model import LocalModel
from .model_methods import Ranked, RankingMethods, sigmoid
from .registry import DEFAULT_RERANKER_MODEL
from .settings import RerankerOptions, RerankerSettings

__all__ = ["Ranked", "Reranker", "sigmoid"]  # Ranked and sigmoid are defined in model_methods.py


class Reranker(RankingMethods, LocalModel):
    """Judge how well each document answers a query, as the official Qwen3-Reranker does.

    Args:
        model: hub id or local directory of a Qwen3-Reranker checkpoint.
        device, dtype, revision, progress_bar, allow_pickle, token, local_files_only: as for `Embedder`.
        instruction: a preset name or a free instruction sentence; None is the web-search default.
        max_length: tokens per (query, document) prompt, fixed prompt parts included; the
            document is cut on the right (with a warning) to fit.
        batch_tokens: document tokens per forward pass (padding included where batches are padded);
            None picks one for the device.
        batch_size: at most this many documents per forward pass (on top of `batch_tokens`); None: no cap.

    The arguments are checked as one `qwen3_rag.settings.RerankerSettings` (kept as `.settings`).
    """

    settings_class = RerankerSettings
    settings: RerankerSettings
    backend: LocalScoring

    def __init__(self, model: str = DEFAULT_RERANKER_MODEL, **options: Unpack[RerankerOptions]) -> None:
        self._become(RerankerSettings.for_constructor(Reranker, RerankerOptions, options, model=model))

    @staticmethod
    def open_backend(settings: RerankerSettings) -> LocalScoring:
        return LocalScoring(settings)

    def __repr__(self) -> str:
        return self._described(f"max_length={self.max_length}")
