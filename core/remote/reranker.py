"""`RemoteReranker`: the `Reranker` API over a vLLM server running Qwen3-Reranker as a classifier.

vLLM serves the original checkpoint as `Qwen3ForSequenceClassification` whose one output is
W[yes] - W[no] applied to the last hidden state (`--hf-overrides` with `classifier_from_token`
and `is_original_qwen3_reranker`): the log-odds the in-process `Reranker` computes. The client
builds the official prompt (prefix, instruction, query, document, suffix) as token ids and asks
`/classify` for the raw logit (`use_activation: false`), so scores keep full precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..batching import distinct, in_runs
from ..errors import RemoteServerError
from ..presets import resolve_task
from ..progress import counter
from ..rebuild import RebuiltOnCopy, records_arguments
from ..reranker import RankingMethods
from ..tokenization import RerankPrompt, RerankTokens
from ..validation import check_bool, check_positive_int, check_text, check_texts
from .http import DEFAULT_MAX_REPLY_BYTES, Server, ordered_rows
from .served import connect

CLASSIFY_PATH = "/classify"
SERVE_HINT = ("start the reranker as vLLM documents it: vllm serve MODEL --runner pooling --hf-overrides "
              "'{\"architectures\": [\"Qwen3ForSequenceClassification\"], "
              "\"classifier_from_token\": [\"no\", \"yes\"], \"is_original_qwen3_reranker\": true}'")


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
    def __init__(self, base_url: str, model: str | None = None, *, tokenizer: str | None = None,
                 instruction: str | None = None, max_length: int = 8192, api_key: str | None = None,
                 timeout: float = 120.0, retries: int = 3, max_batch: int = 32, concurrency: int = 4,
                 progress_bar: bool = False, revision: str | None = None, token: str | bool | None = None,
                 local_files_only: bool = False, max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES):
        self.instruction = resolve_task(instruction).instruction
        self.max_batch = check_positive_int(max_batch, "max_batch")
        self.progress_bar = check_bool(progress_bar, "progress_bar")
        self.server = Server(base_url, api_key=api_key, timeout=timeout, retries=retries, concurrency=concurrency,
                             max_reply_bytes=max_reply_bytes)
        served = connect(self.server, "reranker", model, tokenizer, max_length, revision=revision, token=token,
                         local_files_only=check_bool(local_files_only, "local_files_only"))
        self.model_name, self.max_length = served.name, served.max_length
        self.prompt = RerankPrompt(served.tokenizer, self.max_length)
        self._check_classifier()

    @property
    def name(self) -> str:
        """The served model id."""
        return self.model_name

    def logits(self, query: str, documents: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]:
        """Log-odds logit(yes) - logit(no) per document, in input order, as `Reranker.logits`."""
        tokens, first, owner, batches = self._plan(query, documents, instruction)
        with counter(len(first), self.progress_bar, "Reranking") as advance:
            answers = self.server.post_all(CLASSIFY_PATH, [self._payload(tokens, first, b) for b in batches],
                                           on_done=lambda i: advance(len(batches[i])))
        return self._assemble(tokens, first, owner, batches, answers)

    async def alogits(self, query: str, documents: Sequence[str],
                      instruction: str | None = None) -> NDArray[np.float32]:
        """`logits` with an async HTTP client: the event loop keeps running while the server works."""
        tokens, first, owner, batches = self._plan(query, documents, instruction)
        answers = await self.server.apost_all(CLASSIFY_PATH, [self._payload(tokens, first, b) for b in batches])
        return self._assemble(tokens, first, owner, batches, answers)

    def _plan(self, query: str, documents: Sequence[str],
              instruction: str | None) -> tuple[RerankTokens, list[int], list[int], list[range]]:
        query = check_text(query, "query")
        documents = check_texts(documents, "documents")
        task_instruction = self.instruction if instruction is None else resolve_task(instruction).instruction
        tokens = self.prompt.tokens(task_instruction, query, documents)
        first, owner = distinct(tokens.tails)
        batches = in_runs(len(first), self.max_batch)
        return tokens, first, owner, batches

    def _payload(self, tokens: RerankTokens, first: list[int], batch: range) -> dict[str, Any]:
        return {"model": self.model_name, "input": [tokens.head + tokens.tails[first[i]] for i in batch],
                "use_activation": False}

    def _assemble(self, tokens: RerankTokens, first: list[int], owner: list[int],
                  batches: list[range], answers: Sequence[Any]) -> NDArray[np.float32]:
        logits = np.empty(len(first), dtype=np.float32)
        for batch, answer in zip(batches, answers, strict=True):
            logits[batch.start:batch.stop] = self._logits(answer, len(batch))
        tokens.warn_if_cut(self.max_length, stacklevel=4)
        return logits if len(first) == len(tokens.tails) else logits[owner]

    def _logits(self, answer: Any, count: int) -> NDArray[np.float32]:
        where = self.server.base_url + CLASSIFY_PATH
        rows = ordered_rows(answer, count, where)
        outputs = [row.get("probs") for row in rows]
        if not all(isinstance(o, list) and len(o) == 1 and isinstance(o[0], int | float) for o in outputs):
            sizes = sorted({len(o) if isinstance(o, list) else 0 for o in outputs})
            raise RemoteServerError(f"{where} answered {sizes} outputs per prompt where the Qwen3 reranker "
                                    f"gives one (the yes-no log-odds); {SERVE_HINT}")
        logits = np.array([row["probs"][0] for row in rows], dtype=np.float32)
        if not np.isfinite(logits).all():
            raise RemoteServerError(f"{where} answered non-finite scores")
        return logits

    def _check_classifier(self) -> None:
        """One tiny request now, so that a server not set up as the reranker fails here, explained."""
        try:
            self.logits("q", ["d"])
        except RemoteServerError as error:
            if error.status in (400, 404, 405, 422, 501):
                raise RemoteServerError(f"{error}; {SERVE_HINT}", status=error.status) from None
            raise

    def __repr__(self) -> str:
        return f"RemoteReranker(base_url={self.server.base_url!r}, model={self.model_name!r}, " \
               f"max_length={self.max_length})"
