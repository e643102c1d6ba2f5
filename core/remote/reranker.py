"""`RemoteReranker`: the `Reranker` API over a vLLM server running Qwen3-Reranker as a classifier.

vLLM serves the original checkpoint as `Qwen3ForSequenceClassification` whose one output is
W[yes] - W[no] applied to the last hidden state (`--hf-overrides` with `classifier_from_token`
and `is_original_qwen3_reranker`): the log-odds the in-process `Reranker` computes. The client
builds the official prompt (prefix, instruction, query, document, suffix) as token ids and asks
`/classify` for the raw logit (`use_activation: false`), so scores keep full precision.
"""

from __future__ import annotations

from typing import Unpack

from ..errors import RemoteServerError
from ..pipeline import RankingMethods
from ..presets import resolve_task
from ..settings import RemoteRerankerOptions, RerankerSettings
from ..tokenization import RerankPrompt
from .served import ServedFacade
from .served_backend import CLASSIFY_PATH, SERVE_HINT, ServedScoring

__all__ = ["CLASSIFY_PATH", "SERVE_HINT", "RemoteReranker"]


class RemoteReranker(ServedFacade, RankingMethods):
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

    def __init__(self, base_url: str, model: str | None = None, **options: Unpack[RemoteRerankerOptions]) -> None:
        self._become(
            RerankerSettings.for_constructor(
                RemoteReranker, RemoteRerankerOptions, options, base_url=base_url, model=model
            )
        )

    def _start(self, settings: RerankerSettings) -> None:
        self.instruction = resolve_task(settings.instruction).instruction
        served = self._connect(settings)
        self.prompt = RerankPrompt(served.tokenizer, self.max_length)
        self.backend = ServedScoring(self.server, served.name, served.tokenizer, self.max_batch)
        self._check_classifier()

    def _check_classifier(self) -> None:
        """One tiny request now, so that a server not set up as the reranker fails here, explained."""
        try:
            self.logits("q", ["d"])
        except RemoteServerError as error:
            if error.status in (400, 404, 405, 422, 501):
                raise RemoteServerError(f"{error}; {SERVE_HINT}", status=error.status) from None
            raise

    def __repr__(self) -> str:
        return (
            f"RemoteReranker(base_url={self.server.base_url!r}, model={self.model_name!r}, "
            f"max_length={self.max_length})"
        )
