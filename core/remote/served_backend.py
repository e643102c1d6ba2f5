"""The served backend (`backend.py`'s contract): token ids sent to an OpenAI-style server, each reply
checked as hostile (row count and order, finite numbers, sizes) before it becomes a result.

Sequences go in requests of at most `max_batch`, several in flight at once (`http.Server`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from ..backend import Advance, nothing
from ..batching import in_runs
from ..errors import RemoteServerError
from .http import Server, ordered_rows

EMBEDDINGS_PATH = "/v1/embeddings"
CLASSIFY_PATH = "/classify"
SERVE_HINT = (
    "start the reranker as vLLM documents it: vllm serve MODEL --runner pooling --hf-overrides "
    '\'{"architectures": ["Qwen3ForSequenceClassification"], '
    '"classifier_from_token": ["no", "yes"], "is_original_qwen3_reranker": true}\''
)


@dataclass(frozen=True)
class ServedModel:
    """The model a server serves, as the client found it (`served.connect`)."""

    name: str  # the id requests name
    tokenizer: Any
    config: Any
    context_length: int | None  # the server's own limit, if it says
    checkpoint: str  # what the server says it loaded (hub id or its directory), as Embedder.checkpoint names it


class ServedBackend:
    """What both served backends share: the server, the model it serves (id, tokenizer, config), the request size."""

    path: str

    def __init__(self, server: Server, served: ServedModel, max_batch: int, revision: str | None):
        self.server, self.served, self.max_batch, self._revision = server, served, max_batch, revision

    @property
    def tokenizer(self) -> Tokenizer:
        return self.served.tokenizer

    @property
    def name(self) -> str:
        return self.served.name

    @property
    def checkpoint(self) -> str:
        return self.served.checkpoint

    @property
    def revision(self) -> str | None:
        return self._revision  # the tokenizer's: the server does not say which revision it loaded

    @property
    def context_length(self) -> int | None:
        return self.served.context_length

    def run(self, inputs: list[list[int]], extra: dict[str, Any], advance: Advance) -> list[tuple[range, Any]]:
        batches = in_runs(len(inputs), self.max_batch)
        answers = self.server.post_all(
            self.path,
            [self._payload(inputs, batch, extra) for batch in batches],
            on_done=lambda i: advance(len(batches[i])),
        )
        return list(zip(batches, answers, strict=True))

    async def arun(self, inputs: list[list[int]], extra: dict[str, Any]) -> list[tuple[range, Any]]:
        batches = in_runs(len(inputs), self.max_batch)
        answers = await self.server.apost_all(self.path, [self._payload(inputs, batch, extra) for batch in batches])
        return list(zip(batches, answers, strict=True))

    def _payload(self, inputs: list[list[int]], batch: range, extra: dict[str, Any]) -> dict[str, Any]:
        return {"model": self.served.name, "input": inputs[batch.start : batch.stop], **extra}


class ServedEmbedding(ServedBackend):
    path = EMBEDDINGS_PATH

    @property
    def hidden_size(self) -> int:
        return int(self.served.config.hidden_size)

    def embed(self, rows: list[list[int]], dim: int, advance: Advance = nothing) -> NDArray[np.float32]:
        return self._assemble(self.run(rows, {"encoding_format": "float"}, advance), len(rows), dim)

    async def aembed(self, rows: list[list[int]], dim: int) -> NDArray[np.float32]:
        return self._assemble(await self.arun(rows, {"encoding_format": "float"}), len(rows), dim)

    def _assemble(self, answered: Sequence[tuple[range, Any]], count: int, dim: int) -> NDArray[np.float32]:
        vectors = np.empty((count, dim), dtype=np.float32)
        for batch, answer in answered:
            vectors[batch.start : batch.stop] = self._vectors(answer, len(batch), dim)
        return vectors

    def _vectors(self, answer: Any, count: int, dim: int) -> NDArray[np.float32]:
        """The batch's vectors by their `index`, each checked, cut to `dim` and normalised.

        Checked and normalised in float64, so that values as large as 1e30 or as small as 1e-30 (whose
        squares leave float32's range) still give the unit vector; a row that has no direction (all
        zero) or is not finite is the server's error, named with its row.
        """
        where = self.server.base_url + EMBEDDINGS_PATH
        rows = ordered_rows(answer, count, where)
        try:
            full = np.array([row["embedding"] for row in rows], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise RemoteServerError(f"{where} answered rows without a numeric 'embedding' list") from None
        if full.ndim != 2 or full.shape[1] < dim:
            raise RemoteServerError(
                f"{where} answered vectors of shape {full.shape} where {count} of at least "
                f"{dim} numbers were expected; is an embedding model served there?"
            )
        cut = full[:, :dim]
        norms = np.linalg.norm(cut, axis=1)
        bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0) | ~np.isfinite(cut).all(axis=1))
        if bad.size:
            raise RemoteServerError(
                f"{where} answered a vector that cannot be normalised (row {int(bad[0])} of the "
                f"batch: {'all zero' if norms[bad[0]] == 0 else 'not finite'})"
            )
        return (cut / norms[:, None]).astype(np.float32)


class ServedScoring(ServedBackend):
    """vLLM's `/classify` on the reranker served as a one-output classifier whose output is the log-odds
    (`use_activation: false` keeps it raw)."""

    path = CLASSIFY_PATH

    def check_classifier(self) -> None:
        """One tiny request now, so that a server not set up as the reranker fails here, explained."""
        ids = self.tokenizer.encode("yes", add_special_tokens=False).ids
        try:
            self.score(ids, [ids])
        except RemoteServerError as error:
            if error.status in (400, 404, 405, 422, 501):
                raise RemoteServerError(f"{error}; {SERVE_HINT}", status=error.status) from None
            raise

    def score(self, head: list[int], tails: list[list[int]], advance: Advance = nothing) -> NDArray[np.float32]:
        return self._assemble(self.run([head + tail for tail in tails], {"use_activation": False}, advance), len(tails))

    async def ascore(self, head: list[int], tails: list[list[int]]) -> NDArray[np.float32]:
        return self._assemble(await self.arun([head + tail for tail in tails], {"use_activation": False}), len(tails))

    def _assemble(self, answered: Sequence[tuple[range, Any]], count: int) -> NDArray[np.float32]:
        logits = np.empty(count, dtype=np.float32)
        for batch, answer in answered:
            logits[batch.start : batch.stop] = self._logits(answer, len(batch))
        return logits

    def _logits(self, answer: Any, count: int) -> NDArray[np.float32]:
        where = self.server.base_url + CLASSIFY_PATH
        rows = ordered_rows(answer, count, where)
        outputs = [row.get("probs") for row in rows]
        if not all(isinstance(o, list) and len(o) == 1 and isinstance(o[0], int | float) for o in outputs):
            sizes = sorted({len(o) if isinstance(o, list) else 0 for o in outputs})
            raise RemoteServerError(
                f"{where} answered {sizes} outputs per prompt where the Qwen3 reranker "
                f"gives one (the yes-no log-odds); {SERVE_HINT}"
            )
        logits = np.array([row["probs"][0] for row in rows], dtype=np.float32)
        if not np.isfinite(logits).all():
            raise RemoteServerError(f"{where} answered non-finite scores")
        return logits
