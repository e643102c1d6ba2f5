"""The methods every embedder and reranker shares, local or served, over a backend (`backend.py`):
format the prompts (instruction on queries), tokenize, compute each distinct sequence once, put
results back in input order, warn when texts were cut; then rankings and pairs over the scores.

Torch-free: the remote classes and the index import it without the kernels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from tokenizers import Tokenizer

from .backend import EmbeddingBackend, ScoringBackend
from .batching import distinct
from .errors import InvalidArgumentError, InvalidInputError
from .presets import Task, resolve_task
from .progress import counter
from .quantization import Embeddings, Precision, check_precision, quantize_embeddings
from .resolved import ResolvedEmbedding, ResolvedReranking
from .settings import EmbedderSettings, ModelSettings, RerankerSettings
from .similarity import cosine_similarity
from .tokenization import EmbeddingTokens, RerankPrompt, RerankTokens, embedding_tokens, format_query
from .validation import check_positive_int, check_text, check_texts

Ranges = ArrayLike | None  # int8/uint8 calibration: (2, dim) minima, then maxima


class SharedMethods:
    """What both halves below expose from their settings and resolution."""

    settings: ModelSettings
    resolved: ResolvedEmbedding | ResolvedReranking

    @property
    def progress_bar(self) -> bool:
        return self.settings.progress_bar

    @property
    def max_length(self) -> int:
        """Tokens per text (an embedder's, the closing <|endoftext|> included) or per (query, document) prompt
        (a reranker's, fixed prompt parts included)."""
        return self.resolved.max_length


class EmbeddingMethods(SharedMethods):
    """The query/document API of `Embedder` and `RemoteEmbedder`, over their `backend`: what the settings
    mean for its checkpoint is resolved once (`ResolvedEmbedding`) when the backend opens."""

    settings: EmbedderSettings
    backend: EmbeddingBackend
    resolved: ResolvedEmbedding

    def _resolve(self, settings: EmbedderSettings, backend: EmbeddingBackend) -> None:
        self.resolved = ResolvedEmbedding.of_backend(settings, backend)

    @property
    def task(self) -> Task:
        return self.resolved.task

    @property
    def instruction(self) -> str:
        return self.resolved.task.instruction

    @property
    def symmetric(self) -> bool:
        """Whether documents get the instruction too."""
        return self.resolved.symmetric

    @property
    def dim(self) -> int:
        """The size of the vectors returned."""
        return self.resolved.dim

    @property
    def checkpoint(self) -> str:
        """Where the weights come from (hub id or local directory), served or not: what an index records."""
        return self.backend.checkpoint

    @property
    def revision(self) -> str | None:
        return self.backend.revision

    @overload
    def embed_queries(self, texts: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]: ...
    @overload
    def embed_queries(
        self, texts: Sequence[str], instruction: str | None = None, *, precision: Precision, ranges: Ranges = None
    ) -> Embeddings: ...
    def embed_queries(
        self,
        texts: Sequence[str],
        instruction: str | None = None,
        *,
        precision: Precision = "float32",
        ranges: Ranges = None,
    ) -> Embeddings:
        """Embed search queries; the instruction (this call's, else the embedder's) is prepended.

        `precision` ("float32", "int8", "uint8", "binary", "ubinary") and `ranges` (int8/uint8
        calibration, shape (2, dim)) quantize the unit vectors; see `qwen3_rag.quantize_embeddings`.
        """
        check_precision(precision)
        return quantize_embeddings(self._embed(self._query_texts(texts, instruction)), precision, ranges)

    @overload
    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]: ...
    @overload
    def embed_documents(self, texts: Sequence[str], *, precision: Precision, ranges: Ranges = None) -> Embeddings: ...
    def embed_documents(
        self, texts: Sequence[str], *, precision: Precision = "float32", ranges: Ranges = None
    ) -> Embeddings:
        """Embed documents as they are, or with the instruction when the embedder is symmetric.

        `precision` and `ranges` as for `embed_queries`: float32 (texts, dim) by default; int8/uint8
        (texts, dim) or binary/ubinary (texts, ceil(dim / 8)) packed bits.
        """
        check_precision(precision)
        return quantize_embeddings(self._embed(self._document_texts(texts)), precision, ranges)

    @overload
    async def aembed_queries(self, texts: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]: ...
    @overload
    async def aembed_queries(
        self, texts: Sequence[str], instruction: str | None = None, *, precision: Precision, ranges: Ranges = None
    ) -> Embeddings: ...
    async def aembed_queries(
        self,
        texts: Sequence[str],
        instruction: str | None = None,
        *,
        precision: Precision = "float32",
        ranges: Ranges = None,
    ) -> Embeddings:
        """`embed_queries` without blocking the event loop."""
        check_precision(precision)
        return quantize_embeddings(await self._aembed(self._query_texts(texts, instruction)), precision, ranges)

    @overload
    async def aembed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]: ...
    @overload
    async def aembed_documents(
        self, texts: Sequence[str], *, precision: Precision, ranges: Ranges = None
    ) -> Embeddings: ...
    async def aembed_documents(
        self, texts: Sequence[str], *, precision: Precision = "float32", ranges: Ranges = None
    ) -> Embeddings:
        """`embed_documents` without blocking the event loop."""
        check_precision(precision)
        return quantize_embeddings(await self._aembed(self._document_texts(texts)), precision, ranges)

    @overload
    def embed_query(self, text: str, instruction: str | None = None) -> NDArray[np.float32]: ...
    @overload
    def embed_query(
        self, text: str, instruction: str | None = None, *, precision: Precision, ranges: Ranges = None
    ) -> Embeddings: ...
    def embed_query(
        self, text: str, instruction: str | None = None, *, precision: Precision = "float32", ranges: Ranges = None
    ) -> Embeddings:
        """One query's vector, shape (dim,): row 0 of `embed_queries([text], ...)`, with the same keywords.

        int8/uint8 need `ranges=`: one vector has no per-dimension range of its own.
        """
        checked = one_vector_precision(precision, ranges)  # before the work, as the batch methods check
        texts = self._query_texts(one_text(text, "embed_queries"), instruction)
        return quantize_embeddings(self._embed(texts), checked, ranges)[0]

    @overload
    def embed_document(self, text: str) -> NDArray[np.float32]: ...
    @overload
    def embed_document(self, text: str, *, precision: Precision, ranges: Ranges = None) -> Embeddings: ...
    def embed_document(self, text: str, *, precision: Precision = "float32", ranges: Ranges = None) -> Embeddings:
        """One document's vector, shape (dim,): row 0 of `embed_documents([text], ...)`, with the same keywords."""
        checked = one_vector_precision(precision, ranges)
        texts = self._document_texts(one_text(text, "embed_documents"))
        return quantize_embeddings(self._embed(texts), checked, ranges)[0]

    @overload
    async def aembed_query(self, text: str, instruction: str | None = None) -> NDArray[np.float32]: ...
    @overload
    async def aembed_query(
        self, text: str, instruction: str | None = None, *, precision: Precision, ranges: Ranges = None
    ) -> Embeddings: ...
    async def aembed_query(
        self, text: str, instruction: str | None = None, *, precision: Precision = "float32", ranges: Ranges = None
    ) -> Embeddings:
        """`embed_query` without blocking the event loop."""
        checked = one_vector_precision(precision, ranges)
        texts = self._query_texts(one_text(text, "aembed_queries"), instruction)
        return quantize_embeddings(await self._aembed(texts), checked, ranges)[0]

    @overload
    async def aembed_document(self, text: str) -> NDArray[np.float32]: ...
    @overload
    async def aembed_document(self, text: str, *, precision: Precision, ranges: Ranges = None) -> Embeddings: ...
    async def aembed_document(
        self, text: str, *, precision: Precision = "float32", ranges: Ranges = None
    ) -> Embeddings:
        """`embed_document` without blocking the event loop."""
        checked = one_vector_precision(precision, ranges)
        texts = self._document_texts(one_text(text, "aembed_documents"))
        return quantize_embeddings(await self._aembed(texts), checked, ranges)[0]

    def similarity(self, a: ArrayLike, b: ArrayLike) -> NDArray[np.float32]:
        """Cosine similarity of each vector in `a` with each in `b` (sentence-transformers' `model.similarity`):
        float32 (len(a), len(b)) in [-1, 1]; a (dim,) vector counts as one row. See `cosine_similarity`."""
        return cosine_similarity(a, b)

    def _query_texts(self, texts: Sequence[str], instruction: str | None) -> list[str]:
        texts = check_texts(texts)
        task_instruction = self.task.instruction if instruction is None else resolve_task(instruction).instruction
        return [format_query(task_instruction, text) for text in texts]

    def _document_texts(self, texts: Sequence[str]) -> list[str]:
        texts = check_texts(texts)
        return [format_query(self.task.instruction, text) for text in texts] if self.symmetric else texts

    @property
    def tokenizer(self) -> Tokenizer:
        """The checkpoint's tokenizer (the index chunks text with it)."""
        return self.backend.tokenizer

    def _embed(self, texts: list[str]) -> NDArray[np.float32]:
        tokens, unique, owner = self._tokens(texts)
        with counter(len(unique), self.progress_bar, "Embedding") as advance:
            vectors = self.backend.embed(unique, self.dim, advance)
        return self._restore(tokens, vectors, owner)

    async def _aembed(self, texts: list[str]) -> NDArray[np.float32]:
        tokens, unique, owner = await asyncio.to_thread(self._tokens, texts)  # long texts take a while
        return self._restore(tokens, await self.backend.aembed(unique, self.dim), owner)

    def _tokens(self, texts: list[str]) -> tuple[EmbeddingTokens, list[list[int]], list[int]]:
        tokens = embedding_tokens(self.backend.tokenizer, texts, self.max_length)
        first, owner = distinct(tokens.ids)
        return tokens, [tokens.ids[i] for i in first], owner

    def _restore(self, tokens: EmbeddingTokens, vectors: NDArray[np.float32], owner: list[int]) -> NDArray[np.float32]:
        tokens.warn_if_cut(self.max_length, stacklevel=4)  # the caller of embed_queries/embed_documents
        return vectors if len(vectors) == len(tokens.ids) else vectors[owner]


def one_text(text: object, batch_method: str) -> list[str]:
    """`[text]` for the one-text methods; anything but a string (a list above all) is refused, naming the
    method that takes several."""
    if not isinstance(text, str):
        raise InvalidInputError(
            f"text must be one string, got {type(text).__name__}; for several texts call {batch_method}(texts)"
        )
    return [check_text(text, "text")]


def one_vector_precision(precision: object, ranges: Ranges) -> Precision:
    """`precision` for one vector: int8/uint8 need `ranges`, since one vector's own range per dimension is empty
    (said here, instead of quantize_embeddings' "dimension 0 has no range")."""
    checked = check_precision(precision)
    if checked in ("int8", "uint8") and ranges is None:
        raise InvalidArgumentError(
            f"precision={checked!r} for one text needs ranges= (shape (2, dim)): one vector has no range of its "
            "own; take them from qwen3_rag.calibration_ranges(sample_vectors)"
        )
    return checked


@dataclass(frozen=True)
class Ranked:
    """One document's place in a ranking: its input index, probability and log-odds."""

    index: int
    score: float
    logit: float


def sigmoid(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    """softmax([no, yes])[yes] written without overflow for large |logit|."""
    return np.exp(-np.logaddexp(0.0, -logits.astype(np.float64))).astype(np.float32)


class RankingMethods(SharedMethods):
    """Scores, pairs and rankings of `Reranker` and `RemoteReranker`, over their `backend`: the instruction,
    token limit and prompt are resolved once (`ResolvedReranking`) when the backend opens."""

    settings: RerankerSettings
    backend: ScoringBackend
    resolved: ResolvedReranking
    prompt: RerankPrompt

    def _resolve(self, settings: RerankerSettings, backend: ScoringBackend) -> None:
        self.resolved = ResolvedReranking.of(settings, backend.context_length)
        self.prompt = RerankPrompt(backend.tokenizer, self.resolved.max_length)

    @property
    def instruction(self) -> str:
        return self.resolved.instruction

    def score(self, query: str, documents: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]:
        """Probability that each document meets the query, in input order (the official score)."""
        return sigmoid(self.logits(query, documents, instruction))

    def logits(self, query: str, documents: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]:
        """Log-odds logit(yes) - logit(no) per document, in input order: the score before the sigmoid,
        never saturated."""
        tokens, tails, owner = self._tokens(query, documents, instruction)
        with counter(len(tails), self.progress_bar, "Reranking") as advance:
            logits = self.backend.score(tokens.head, tails, advance) if tails else np.empty(0, np.float32)
        return self._restore(tokens, logits, owner)

    async def alogits(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> NDArray[np.float32]:
        """`logits` without blocking the event loop."""
        tokens, tails, owner = await asyncio.to_thread(self._tokens, query, documents, instruction)
        logits = await self.backend.ascore(tokens.head, tails) if tails else np.empty(0, np.float32)
        return self._restore(tokens, logits, owner)

    def _tokens(
        self, query: str, documents: Sequence[str], instruction: str | None
    ) -> tuple[RerankTokens, list[list[int]], list[int]]:
        query = check_text(query, "query")
        documents = check_texts(documents, "documents")
        task_instruction = self.instruction if instruction is None else resolve_task(instruction).instruction
        tokens = self.prompt.tokens(task_instruction, query, documents)
        first, owner = distinct(tokens.tails)
        return tokens, [tokens.tails[i] for i in first], owner

    def _restore(self, tokens: RerankTokens, logits: NDArray[np.float32], owner: list[int]) -> NDArray[np.float32]:
        tokens.warn_if_cut(self.max_length, stacklevel=4)  # the caller of logits/score/rerank
        return logits if len(logits) == len(tokens.tails) else logits[owner]

    async def ascore(self, query: str, documents: Sequence[str], instruction: str | None = None) -> NDArray[np.float32]:
        """`score` without blocking the event loop."""
        return sigmoid(await self.alogits(query, documents, instruction))

    def pair_logits(
        self, queries: Sequence[str], documents: Sequence[str], instruction: str | None = None
    ) -> NDArray[np.float32]:
        """Log-odds of (queries[i], documents[i]) pairs, in input order.

        Pairs are grouped by query, so each distinct query's prompt head is computed once.
        """
        queries, documents = check_texts(queries, "queries"), check_texts(documents, "documents")
        if len(queries) != len(documents):
            raise InvalidArgumentError(
                f"queries and documents must pair up, got {len(queries)} queries and {len(documents)} documents"
            )
        positions: dict[str, list[int]] = {}
        for position, query in enumerate(queries):
            positions.setdefault(query, []).append(position)
        logits = np.empty(len(queries), dtype=np.float32)
        for query, where in positions.items():
            logits[where] = self.logits(query, [documents[i] for i in where], instruction)
        return logits

    def rerank(
        self, query: str, documents: Sequence[str], top_k: int | None = None, instruction: str | None = None
    ) -> list[Ranked]:
        """Documents best first (ties keep input order), at most `top_k` of them."""
        if top_k is not None:
            check_positive_int(top_k, "top_k")
        return ranking(self.logits(query, documents, instruction), top_k)

    async def arerank(
        self, query: str, documents: Sequence[str], top_k: int | None = None, instruction: str | None = None
    ) -> list[Ranked]:
        """`rerank` without blocking the event loop."""
        if top_k is not None:
            check_positive_int(top_k, "top_k")
        return ranking(await self.alogits(query, documents, instruction), top_k)


def ranking(logits: NDArray[np.float32], top_k: int | None) -> list[Ranked]:
    order = np.argsort(-logits, kind="stable")[:top_k]
    scores = sigmoid(logits)
    return [Ranked(int(i), float(scores[i]), float(logits[i])) for i in order]
