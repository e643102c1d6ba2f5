"""`Embedder`: Qwen3-Embedding with the official query/document layout."""

from __future__ import annotations

from .kernels.backend import LocalEmbedding
from .kernels.loading import LoadedModel, load_model
from .kernels.runtime import token_budget
from .pipeline import EmbeddingMethods
from .presets import resolve_task
from .rebuild import RebuiltOnCopy, records_arguments
from .registry import DEFAULT_EMBEDDING_MODEL, KNOWN_CHECKPOINTS
from .validation import check_bool, check_dim, check_positive_int


class Embedder(RebuiltOnCopy, EmbeddingMethods):
    """Embed queries (with a task instruction) and documents (without) into unit vectors.

    Args:
        model: hub id or local directory of a Qwen3-Embedding checkpoint.
        device: "cpu", "cuda", "cuda:N", "mps" or None for the best available.
        dtype: "float32", "bfloat16", "float16" or None (bf16 on CUDA, fp32 elsewhere). On CPUs with
            bf16 matrix units (AMX, AVX512-BF16), "bfloat16" is an opt-in fast mode: about 5x the fp32
            speed on this project's CPU, with vectors within about 3e-3 of fp32 (bench/RESULTS.md).
        dim: Matryoshka output size, 32..hidden size; None keeps the full size.
        instruction: a preset name (see `qwen3_rag.PRESETS`) or a free instruction sentence;
            None is the web-search default.
        symmetric: put the instruction on documents too (STS, clustering, classification).
            None takes it from the preset (only "semantic_similarity"-like presets are symmetric).
        max_length: tokens per text, the closing <|endoftext|> included; longer texts are cut
            on the right with a warning.
        batch_tokens: tokens per forward pass (padding included where batches are padded); None picks
            one for the device.
        batch_size: at most this many texts per forward pass (on top of `batch_tokens`); None: no cap.
        revision: hub revision (branch, tag or commit) to pin.
        progress_bar: show a progress bar while embedding.
        allow_pickle: accept a checkpoint with only pickle weights (reading them can run code);
            by default only safetensors load.
        token: hub access token for a private or gated checkpoint; None uses the one huggingface_hub
            finds (HF_TOKEN, `hf auth login`). Kept for copies and pickles of this object.
        local_files_only: read the hub cache only, never the network (as HF_HUB_OFFLINE=1 does).
            Without it the hub is asked once, within $HF_HUB_ETAG_TIMEOUT seconds (10 by default);
            when it cannot be reached the cache is used, or a ModelLoadError says what to do.
    """

    @records_arguments
    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str | None = None,
        dtype: str | None = None,
        dim: int | None = None,
        instruction: str | None = None,
        symmetric: bool | None = None,
        max_length: int = 8192,
        batch_tokens: int | None = None,
        batch_size: int | None = None,
        revision: str | None = None,
        progress_bar: bool = False,
        allow_pickle: bool = False,
        token: str | bool | None = None,
        local_files_only: bool = False,
    ):
        self.task = resolve_task(instruction)
        self.symmetric = self.task.symmetric if symmetric is None else check_bool(symmetric, "symmetric")
        self.max_length = check_positive_int(max_length, "max_length", minimum=2)
        if model in KNOWN_CHECKPOINTS:  # fail before a multi-GB download
            check_dim(dim, KNOWN_CHECKPOINTS[model].hidden_size, model)
        self.model: LoadedModel = load_model(
            "embedding",
            model,
            revision=revision,
            device=device,
            dtype=dtype,
            allow_pickle=allow_pickle,
            token=token,
            local_files_only=check_bool(local_files_only, "local_files_only"),
        )
        self.dim = check_dim(dim, self.model.hidden_size, model)
        self.checkpoint = self.model.key.source  # what an index records
        self.batch_tokens = token_budget(batch_tokens, self.model.device)
        self.batch_size = None if batch_size is None else check_positive_int(batch_size, "batch_size")
        self.backend = LocalEmbedding(self.model, self.batch_tokens, self.batch_size)
        self.progress_bar = progress_bar

    @property
    def name(self) -> str:
        """The checkpoint: a hub id or the resolved local directory."""
        return self.model.key.source

    @property
    def revision(self) -> str | None:
        return self.model.key.revision

    def __repr__(self) -> str:
        return (
            f"Embedder(model={self.model.key.source!r}, device='{self.model.device}', "
            f"dtype={self.model.precision}, attention='{self.model.attention_path}', loader='{self.model.loader}', "
            f"dim={self.dim}, symmetric={self.symmetric})"
        )
