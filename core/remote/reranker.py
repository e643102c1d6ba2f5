"""`RemoteReranker`: the `Reranker` API over a vLLM server running Qwen3-Reranker as a classifier.

vLLM serves the original checkpoint as `Qwen3ForSequenceClassification` whose one output is
W[yes] - W[no] applied to the last hidden state (`--hf-overrides` with `classifier_from_token`
and `is_original_qwen3_reranker`): the log-odds the in-process `Reranker` computes. The client
builds the official prompt (prefix, instruction, query, document, suffix) as token ids and asks
`/classify` for the raw logit (`use_activation: false`), so scores keep full precision.
"""

from __future__ import annotations

from ..errors import RemoteServerError
from ..pipeline import RankingMethods
from ..presets import resolve_task
from ..rebuild import RebuiltOnCopy, records_arguments
from ..tokenization import RerankPrompt
from ..validation import check_bool, check_positive_int
from .backend import CLASSIFY_PATH, SERVE_HINT, ServedScoring
from .http import DEFAULT_MAX_REPLY_BYTES, Server
from .served import connect

__all__ = ["CLASSIFY_PATH", "SERVE_HINT", "RemoteReranker"]


class RemoteReranker(RebuiltOnCopy, RankingMethods):
    """Qwen3-Reranker served by vLLM, with exactly the in-process `Reranker`'s prompt and scores.

    Args:
        base_url: the server, e.g. "http://localhost:8001" (see SERVE_HINT for the `vllm serve` line).
        model: the served model id; None takes the server's only model.
        tokenizer: hub id or local directory of the served checkpoint; None: the one the server names.
        instruction, max_length, progress_bar, revision, token, local_files_only: as for `Reranker`.
        api_key, timeout, retries, concurrency, max_reply_bytes: as for `RemoteEmbedder`.
        max_batch: (query, document) prompts per request.
    """

    @records_arguments
    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        tokenizer: str | None = None,
        instruction: str | None = None,
        max_length: int = 8192,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        max_batch: int = 32,
        concurrency: int = 4,
        progress_bar: bool = False,
        revision: str | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ):
        self.instruction = resolve_task(instruction).instruction
        self.max_batch = check_positive_int(max_batch, "max_batch")
        self.progress_bar = check_bool(progress_bar, "progress_bar")
        self.server = Server(
            base_url,
            api_key=api_key,
            timeout=timeout,
            retries=retries,
            concurrency=concurrency,
            max_reply_bytes=max_reply_bytes,
        )
        served = connect(
            self.server,
            "reranker",
            model,
            tokenizer,
            max_length,
            revision=revision,
            token=token,
            local_files_only=check_bool(local_files_only, "local_files_only"),
        )
        self.model_name, self.max_length, self.checkpoint = served.name, served.max_length, served.checkpoint
        self.prompt = RerankPrompt(served.tokenizer, self.max_length)
        self.backend = ServedScoring(self.server, served.name, served.tokenizer, self.max_batch)
        self._check_classifier()

    @property
    def name(self) -> str:
        """The served model id."""
        return self.model_name

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
