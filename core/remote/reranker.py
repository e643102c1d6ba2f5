"""`RemoteReranker`: the `Reranker` API over a vLLM server running Qwen3-Reranker as a classifier.

vLLM serves the original checkpoint as `Qwen3ForSequenceClassification` whose one output is
W[yes] - W[no] applied to the last hidden state (`--hf-overrides` with `classifier_from_token`
and `is_original_qwen3_reranker`): the log-odds the in-process `Reranker` computes. The client
builds the official prompt (prefix, instruction, query, document, suffix) as token ids and asks
`/classify` for the raw logit (`use_activation: false`), so scores keep full precision.
"""

from __future__ import annotations

from typing import Unpack

from ..model_methods import RankingMethods
from ..settings import RemoteRerankerOptions, RerankerSettings
from .served import RemoteModel, connect_backend
from .served_backend import CLASSIFY_PATH, SERVE_HINT, ServedScoring

__all__ = ["CLASSIFY_PATH", "SERVE_HINT", "RemoteReranker"]


class RemoteReranker(RankingMethods, RemoteModel):
    """Qwen3-Reranker served by vLLM, with exactly the in-process `Reranker`'s prompt and scores.

    Args:
        base_url: the server, e.g. "http://localhost:8001" (see SERVE_HINT for the `vllm serve` line).
        model: the served model id; None takes the server's only model.
        tokenizer: hub id or local directory of the served checkpoint; None: the one the server names.
        instruction, max_length, progress_bar, revision, token, local_files_only: as for `Reranker`.
        api_key, timeout, retries, concurrency, max_reply_bytes: as for `RemoteEmbedder`.
        batch_size: (query, document) prompts per request (None: 32).

    The arguments are checked as one `qwen3_rag.settings.RerankerSettings` with `base_url` (kept as `.settings`).
    """

    settings_class = RerankerSettings
    settings: RerankerSettings
    backend: ServedScoring

    def __init__(self, base_url: str, model: str | None = None, **options: Unpack[RemoteRerankerOptions]) -> None:
        self._become(
            RerankerSettings.for_constructor(
                RemoteReranker, RemoteRerankerOptions, options, base_url=base_url, model=model
            )
        )

    @staticmethod
    def open_backend(settings: RerankerSettings) -> ServedScoring:
        backend = connect_backend(ServedScoring, settings)
        backend.check_classifier()
        return backend

    def __repr__(self) -> str:
        return (
            f"RemoteReranker(base_url={self.server.base_url!r}, model={self.model_name!r}, "
            f"max_length={self.max_length})"
        )
