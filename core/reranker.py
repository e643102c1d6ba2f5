"""`Reranker`: Qwen3-Reranker scores with the official prompt, computed from the yes/no head only."""

from __future__ import annotations

from .kernels.backend import LocalScoring
from .kernels.loading import LoadedModel, load_model
from .kernels.runtime import token_budget
from .pipeline import Ranked, RankingMethods, sigmoid
from .presets import resolve_task
from .rebuild import RebuiltOnCopy, records_arguments
from .registry import DEFAULT_RERANKER_MODEL
from .tokenization import RerankPrompt
from .validation import check_bool, check_positive_int

__all__ = ["Ranked", "Reranker", "sigmoid"]  # Ranked and sigmoid are defined in pipeline.py


class Reranker(RebuiltOnCopy, RankingMethods):
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
    """

    @records_arguments
    def __init__(
        self,
        model: str = DEFAULT_RERANKER_MODEL,
        *,
        device: str | None = None,
        dtype: str | None = None,
        instruction: str | None = None,
        max_length: int = 8192,
        batch_tokens: int | None = None,
        batch_size: int | None = None,
        revision: str | None = None,
        progress_bar: bool = False,
        allow_pickle: bool = False,
        token: str | bool | None = None,
        local_files_only: bool = False,
    ):
        self.instruction = resolve_task(instruction).instruction
        check_positive_int(max_length, "max_length")
        self.model: LoadedModel = load_model(
            "reranker",
            model,
            revision=revision,
            device=device,
            dtype=dtype,
            allow_pickle=allow_pickle,
            token=token,
            local_files_only=check_bool(local_files_only, "local_files_only"),
        )
        self.prompt = RerankPrompt(self.model.tokenizer, max_length)
        self.max_length = max_length
        self.batch_tokens = token_budget(batch_tokens, self.model.device)
        self.batch_size = None if batch_size is None else check_positive_int(batch_size, "batch_size")
        self.backend = LocalScoring(self.model, self.batch_tokens, self.batch_size)
        self.progress_bar = progress_bar

    @property
    def name(self) -> str:
        """The checkpoint: a hub id or the resolved local directory."""
        return self.model.key.source

    def __repr__(self) -> str:
        return (
            f"Reranker(model={self.model.key.source!r}, device='{self.model.device}', "
            f"dtype={self.model.precision}, attention='{self.model.attention_path}', loader='{self.model.loader}', "
            f"max_length={self.max_length})"
        )
