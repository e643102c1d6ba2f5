"""`RemoteEmbedder`: the `Embedder` API over an OpenAI-style embeddings server (vLLM first)."""

from __future__ import annotations

from ..pipeline import EmbeddingMethods
from ..presets import resolve_task
from ..rebuild import RebuiltOnCopy, records_arguments
from ..validation import check_bool, check_dim, check_positive_int
from .backend import EMBEDDINGS_PATH, ServedEmbedding
from .http import DEFAULT_MAX_REPLY_BYTES, Server
from .served import connect

__all__ = ["EMBEDDINGS_PATH", "RemoteEmbedder"]


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
    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        tokenizer: str | None = None,
        instruction: str | None = None,
        symmetric: bool | None = None,
        dim: int | None = None,
        max_length: int = 8192,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        max_batch: int = 64,
        concurrency: int = 4,
        progress_bar: bool = False,
        revision: str | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ):
        self.task = resolve_task(instruction)
        self.symmetric = self.task.symmetric if symmetric is None else check_bool(symmetric, "symmetric")
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
            "embedding",
            model,
            tokenizer,
            max_length,
            revision=revision,
            token=token,
            local_files_only=check_bool(local_files_only, "local_files_only"),
        )
        self.model_name, self.max_length, self.checkpoint = served.name, served.max_length, served.checkpoint
        self.hidden_size: int = served.config.hidden_size
        self.dim = check_dim(dim, self.hidden_size, served.name)
        self.backend = ServedEmbedding(self.server, served.name, served.tokenizer, self.hidden_size, self.max_batch)
        self._revision = revision

    @property
    def name(self) -> str:
        """The served model id."""
        return self.model_name

    @property
    def revision(self) -> str | None:
        return self._revision

    def __repr__(self) -> str:
        return (
            f"RemoteEmbedder(base_url={self.server.base_url!r}, model={self.model_name!r}, dim={self.dim}, "
            f"symmetric={self.symmetric})"
        )
