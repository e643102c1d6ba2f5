"""`RemoteEmbedder`: the `Embedder` API over an OpenAI-style embeddings server (vLLM first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..batching import distinct, in_runs
from ..embedder import EmbeddingMethods
from ..errors import RemoteServerError
from ..presets import resolve_task
from ..progress import counter
from ..rebuild import RebuiltOnCopy, records_arguments
from ..tokenization import EmbeddingTokens, embedding_tokens
from ..validation import check_bool, check_dim, check_positive_int
from .http import DEFAULT_MAX_REPLY_BYTES, Server, ordered_rows
from .served import connect

EMBEDDINGS_PATH = "/v1/embeddings"


class RemoteEmbedder(RebuiltOnCopy, EmbeddingMethods):
    """Qwen3-Embedding served elsewhere, with exactly the in-process `Embedder`'s inputs and outputs.

    Texts are formatted (instruction on queries), tokenized and cut to `max_length` here, and sent
    as token ids; the server's vectors are cut to `dim` and L2-normalised here. On the same weights
    the vectors equal `Embedder`'s to float32 rounding.

    Args:
        base_url: the server, e.g. "http://localhost:8000" (started with `vllm serve MODEL --runner pooling`).
        model: the served model id; None takes the server's only model.
        tokenizer: hub id or local directory of the served checkpoint, for its tokenizer and config;
            None uses the checkpoint the server names (vLLM's `root`), else `model`.
        instruction, symmetric, dim, progress_bar, revision, token, local_files_only: as for `Embedder`
            (revision, token and local_files_only apply to the tokenizer download).
        max_length: tokens per text; the server's own context length caps it.
        api_key: sent as a bearer token.
        timeout: seconds for one request, to the last byte of its reply; retries: resends when the
            transport fails or a request runs out of time.
        max_reply_bytes: the most bytes read from one reply (compressed or decompressed); a larger
            reply is a RemoteServerError, read no further.
        max_batch: texts per request; concurrency: requests in flight per call.
    """

    @records_arguments
    def __init__(self, base_url: str, model: str | None = None, *, tokenizer: str | None = None,
                 instruction: str | None = None, symmetric: bool | None = None, dim: int | None = None,
                 max_length: int = 8192, api_key: str | None = None, timeout: float = 120.0, retries: int = 3,
                 max_batch: int = 64, concurrency: int = 4, progress_bar: bool = False, revision: str | None = None,
                 token: str | bool | None = None, local_files_only: bool = False,
                 max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES):
        self.task = resolve_task(instruction)
        self.symmetric = self.task.symmetric if symmetric is None else check_bool(symmetric, "symmetric")
        self.max_batch = check_positive_int(max_batch, "max_batch")
        self.progress_bar = check_bool(progress_bar, "progress_bar")
        self.server = Server(base_url, api_key=api_key, timeout=timeout, retries=retries, concurrency=concurrency,
                             max_reply_bytes=max_reply_bytes)
        served = connect(self.server, "embedding", model, tokenizer, max_length, revision=revision, token=token,
                         local_files_only=check_bool(local_files_only, "local_files_only"))
        self.model_name, self.tokenizer, self.max_length = served.name, served.tokenizer, served.max_length
        self.hidden_size: int = served.config.hidden_size
        self.dim = check_dim(dim, self.hidden_size, served.name)
        self._revision = revision

    @property
    def name(self) -> str:
        """The served model id."""
        return self.model_name

    @property
    def revision(self) -> str | None:
        return self._revision

    def _embed(self, texts: list[str]) -> NDArray[np.float32]:
        tokens, unique, owner, batches = self._plan(texts)
        with counter(len(unique), self.progress_bar, "Embedding") as advance:
            answers = self.server.post_all(EMBEDDINGS_PATH, [self._payload(unique, b) for b in batches],
                                           on_done=lambda i: advance(len(batches[i])))
        return self._assemble(tokens, unique, owner, batches, answers)

    async def _aembed(self, texts: list[str]) -> NDArray[np.float32]:
        tokens, unique, owner, batches = self._plan(texts)
        answers = await self.server.apost_all(EMBEDDINGS_PATH, [self._payload(unique, b) for b in batches])
        return self._assemble(tokens, unique, owner, batches, answers)

    def _plan(self, texts: list[str]) -> tuple[EmbeddingTokens, list[list[int]], list[int], list[range]]:
        tokens = embedding_tokens(self.tokenizer, texts, self.max_length)
        first, owner = distinct(tokens.ids)
        unique = [tokens.ids[i] for i in first]
        return tokens, unique, owner, in_runs(len(unique), self.max_batch)

    def _payload(self, unique: list[list[int]], batch: range) -> dict[str, Any]:
        return {"model": self.model_name, "input": [unique[i] for i in batch], "encoding_format": "float"}

    def _assemble(self, tokens: EmbeddingTokens, unique: list[list[int]], owner: list[int], batches: list[range],
                  answers: Sequence[Any]) -> NDArray[np.float32]:
        vectors = np.empty((len(unique), self.dim), dtype=np.float32)
        for batch, answer in zip(batches, answers, strict=True):
            vectors[batch.start:batch.stop] = self._vectors(answer, len(batch))
        tokens.warn_if_cut(self.max_length, stacklevel=4)
        return vectors if len(unique) == len(tokens.ids) else vectors[owner]

    def _vectors(self, answer: Any, count: int) -> NDArray[np.float32]:
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
        if full.ndim != 2 or full.shape[1] < self.dim:
            raise RemoteServerError(f"{where} answered vectors of shape {full.shape} where {count} of at least "
                                    f"{self.dim} numbers were expected; is an embedding model served there?")
        cut = full[:, : self.dim]
        norms = np.linalg.norm(cut, axis=1)
        bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0) | ~np.isfinite(cut).all(axis=1))
        if bad.size:
            raise RemoteServerError(f"{where} answered a vector that cannot be normalised (row {int(bad[0])} of the "
                                    f"batch: {'all zero' if norms[bad[0]] == 0 else 'not finite'})")
        return (cut / norms[:, None]).astype(np.float32)

    def __repr__(self) -> str:
        return f"RemoteEmbedder(base_url={self.server.base_url!r}, model={self.model_name!r}, dim={self.dim}, " \
               f"symmetric={self.symmetric})"
