"""`Reranker`: Qwen3-Reranker scores with the official prompt, computed from the yes/no head only."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .batching import distinct, plan_batches
from .errors import InvalidArgumentError
from .kernels import LoadedModel, load_model, score_batches
from .kernels.runtime import token_budget
from .presets import resolve_task
from .progress import track
from .rebuild import RebuiltOnCopy, records_arguments
from .registry import DEFAULT_RERANKER_MODEL
from .tokenization import RerankPrompt
from .validation import check_bool, check_positive_int, check_text, check_texts


@dataclass(frozen=True)
class Ranked:
    """One document's place in a ranking: its input index, probability and log-odds."""

    index: int
    score: float
    logit: float


def sigmoid(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    """softmax([no, yes])[yes] written without overflow for large |logit|."""
    return np.exp(-np.logaddexp(0.0, -logits.astype(np.float64))).astype(np.float32)


class RankingMethods:
    """Scores, pairs and rankings over `logits`, shared by `Reranker` and `RemoteReranker`."""

    def score(self, query: str, documents: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]:
        """Probability that each document meets the query, in input order (the official score)."""
        return sigmoid(self.logits(query, documents, instruction))

    def logits(self, query: str, documents: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]:
        raise NotImplementedError

    async def alogits(self, query: str, documents: Sequence[str],
                      instruction: str | None = None) -> NDArray[np.float32]:
        """`logits` without blocking the event loop (a worker thread here; a remote reranker awaits its server)."""
        return await asyncio.to_thread(self.logits, query, documents, instruction)

    async def ascore(self, query: str, documents: Sequence[str],
                     instruction: str | None = None) -> NDArray[np.float32]:
        """`score` without blocking the event loop."""
        return sigmoid(await self.alogits(query, documents, instruction))

    def pair_logits(self, queries: Sequence[str], documents: Sequence[str],
                    instruction: str | None = None) -> NDArray[np.float32]:
        """Log-odds of (queries[i], documents[i]) pairs, in input order.

        Pairs are grouped by query, so each distinct query's prompt head is computed once.
        """
        queries, documents = check_texts(queries, "queries"), check_texts(documents, "documents")
        if len(queries) != len(documents):
            raise InvalidArgumentError(f"queries and documents must pair up, got {len(queries)} queries "
                                       f"and {len(documents)} documents")
        positions: dict[str, list[int]] = {}
        for position, query in enumerate(queries):
            positions.setdefault(query, []).append(position)
        logits = np.empty(len(queries), dtype=np.float32)
        for query, where in positions.items():
            logits[where] = self.logits(query, [documents[i] for i in where], instruction)
        return logits

    def rerank(self, query: str, documents: Sequence[str], top_k: int | None = None,
               instruction: str | None = None) -> list[Ranked]:
        """Documents best first (ties keep input order), at most `top_k` of them."""
        if top_k is not None:
            check_positive_int(top_k, "top_k")
        return ranking(self.logits(query, documents, instruction), top_k)

    async def arerank(self, query: str, documents: Sequence[str], top_k: int | None = None,
                      instruction: str | None = None) -> list[Ranked]:
        """`rerank` without blocking the event loop."""
        if top_k is not None:
            check_positive_int(top_k, "top_k")
        return ranking(await self.alogits(query, documents, instruction), top_k)


def ranking(logits: NDArray[np.float32], top_k: int | None) -> list[Ranked]:
    order = np.argsort(-logits, kind="stable")[:top_k]
    scores = sigmoid(logits)
    return [Ranked(int(i), float(scores[i]), float(logits[i])) for i in order]


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
    def __init__(self, model: str = DEFAULT_RERANKER_MODEL, *, device: str | None = None,
                 dtype: str | None = None, instruction: str | None = None, max_length: int = 8192,
                 batch_tokens: int | None = None, batch_size: int | None = None, revision: str | None = None,
                 progress_bar: bool = False, allow_pickle: bool = False,
                 token: str | bool | None = None, local_files_only: bool = False):
        self.instruction = resolve_task(instruction).instruction
        check_positive_int(max_length, "max_length")
        self.model: LoadedModel = load_model("reranker", model, revision=revision, device=device, dtype=dtype,
                                              allow_pickle=allow_pickle, token=token,
                                              local_files_only=check_bool(local_files_only, "local_files_only"))
        self.prompt = RerankPrompt(self.model.tokenizer, max_length)
        self.max_length = max_length
        self.batch_tokens = token_budget(batch_tokens, self.model.device)
        self.batch_size = None if batch_size is None else check_positive_int(batch_size, "batch_size")
        self.progress_bar = progress_bar

    def logits(self, query: str, documents: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]:
        """Log-odds logit(yes) - logit(no) per document: the score before the sigmoid, never saturated."""
        query = check_text(query, "query")
        documents = check_texts(documents, "documents")
        if not documents:
            return np.empty(0, dtype=np.float32)
        task_instruction = self.instruction if instruction is None else resolve_task(instruction).instruction
        with self.model.lock:
            tokens = self.prompt.tokens(task_instruction, query, documents)
            first, owner = distinct(tokens.tails)
            tails = [tokens.tails[i] for i in first]
            batches = plan_batches([len(tail) for tail in tails], self.batch_tokens, self.batch_size,
                                   padded=not self.model.packs_batches)
            logits = score_batches(self.model, tokens.head, tails, track(batches, self.progress_bar, "Reranking"))
        tokens.warn_if_cut(self.max_length, stacklevel=3)
        return logits if len(tails) == len(documents) else logits[owner]

    @property
    def name(self) -> str:
        """The checkpoint: a hub id or the resolved local directory."""
        return self.model.key.source

    def __repr__(self) -> str:
        return (f"Reranker(model={self.model.key.source!r}, device='{self.model.device}', "
                f"dtype={self.model.precision}, attention='{self.model.attention_path}', loader='{self.model.loader}', "
                f"max_length={self.max_length})")
