"""`RemoteEmbedder`: the `Embedder` API over an OpenAI-style embeddings server (vLLM first)."""

from __future__ import annotations

from typing import Unpack

from ..model_methods import EmbeddingMethods
from ..settings import EmbedderSettings, RemoteEmbedderOptions
from .served import RemoteModel, connect_backend
from .served_backend import EMBEDDINGS_PATH, ServedEmbedding

__all__ = ["EMBEDDINGS_PATH", "RemoteEmbedder"]


class RemoteEmbedder(EmbeddingMethods, RemoteModel):
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
        batch_size: texts per request (None: 64).
        api_key: sent as a bearer token.
        timeout: seconds for one request, to the last byte of its reply; retries: resends when the
            transport fails or a request runs out of time.
        max_reply_bytes: the most bytes read from one reply (compressed or decompressed); a larger
            reply is a RemoteServerError, read no further.
        concurrency: requests in flight per call.

    The arguments are checked as one `qwen3_rag.settings.EmbedderSettings` with `base_url` (kept as `.settings`).


    Methods (shared with the other embedder, in `model_methods.EmbeddingMethods`): `embed_queries`/`embed_documents`
    for a list of texts, `embed_query`/`embed_document` for one, their `a`-prefixed async twins, and
    `similarity(a, b)` for the cosine similarity of vectors.
    """

    settings_class = EmbedderSettings
    settings: EmbedderSettings
    backend: ServedEmbedding

    def __init__(self, base_url: str, model: str | None = None, **options: Unpack[RemoteEmbedderOptions]) -> None:
        self._become(
            EmbedderSettings.for_constructor(
                RemoteEmbedder, RemoteEmbedderOptions, options, base_url=base_url, model=model
            )
        )

    @staticmethod
    def open_backend(settings: EmbedderSettings) -> ServedEmbedding:
        return connect_backend(ServedEmbedding, settings)

    @property
    def hidden_size(self) -> int:
        return self.backend.hidden_size

    def __repr__(self) -> str:
        return (
            f"RemoteEmbedder(base_url={self.server.base_url!r}, model={self.model_name!r}, dim={self.dim}, "
            f"symmetric={self.symmetric})"
        )
