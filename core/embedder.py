"""`Embedder`: Qwen3-Embedding with the official query/document layout."""

from __future__ import annotations

from typing import Unpack

from .kernels.local_backend import LocalEmbedding
from .local_model import LocalModel
from .model_methods import EmbeddingMethods
from .registry import DEFAULT_EMBEDDING_MODEL
from .settings import EmbedderOptions, EmbedderSettings


class Embedder(EmbeddingMethods, LocalModel):
    """Embed queries (with a task instruction) and documents (without) into unit vectors.

    Args:
        model: hub id or local directory of a Qwen3-Embedding checkpoint.
        device: "cpu", "cuda", "cuda:N", "mps" or None for the best available.
        dtype: "float32", "bfloat16", "float16", "int8" or None (bf16 on CUDA, fp32 elsewhere). On CPUs with
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

    The arguments are checked as one `qwen3_rag.settings.EmbedderSettings` (kept as `.settings`);
    `Embedder.from_settings(settings)` builds one from such an object.


    Methods (shared with the other embedder, in `model_methods.EmbeddingMethods`): `embed_queries`/`embed_documents`
    for a list of texts, `embed_query`/`embed_document` for one, their `a`-prefixed async twins, and
    `similarity(a, b)` for the cosine similarity of vectors.
    """

    settings_class = EmbedderSettings
    settings: EmbedderSettings
    backend: LocalEmbedding

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, **options: Unpack[EmbedderOptions]) -> None:
        self._become(EmbedderSettings.for_constructor(Embedder, EmbedderOptions, options, model=model))

    @staticmethod
    def open_backend(settings: EmbedderSettings) -> LocalEmbedding:
        return LocalEmbedding(settings)

    def __repr__(self) -> str:
        return self._described(f"dim={self.dim}, symmetric={self.symmetric}")
