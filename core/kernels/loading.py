"""Loading Qwen3 checkpoints once per process and sharing them between every caller."""

from __future__ import annotations

import os
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import torch
import transformers
from packaging.version import Version

from ..errors import ModelLoadError
from ..registry import END_OF_TEXT, KNOWN_CHECKPOINTS, NO_TOKEN, YES_TOKEN
from ..tokenization import plain_text_tokenizer, token_id
from .attention import choose
from .hub import resolve_access
from .packed import unsupported
from .runtime import cpu_runs_bf16_natively, resolve_device, resolve_dtype

Kind = Literal["embedding", "reranker"]
MIN_TRANSFORMERS = Version("5.0.0")  # the cache-layer API the reranker kernel builds on
_TRANSFORMERS = Version(transformers.__version__)


@dataclass(frozen=True)
class LoadKey:
    kind: Kind
    source: str
    revision: str | None
    device: str
    dtype: str


class LoadedModel:
    """A tokenizer and a Qwen3 backbone (no LM head) on one device; the reranker adds its yes/no head.

    `yes_minus_no` is the fp32 vector W[yes] - W[no] from the output layer, so that a score is one
    dot product with the last hidden state; the vocabulary-sized head itself is not kept.

    `attention_path` names how forward passes run (see `attention.py`); `attend` is the packed
    attention for it, or None when transformers' own padded forward runs.
    """

    # Any: transformers' modules are typed as plain nn.Module, whose attributes mypy cannot see.
    def __init__(self, key: LoadKey, tokenizer: Any, backbone: Any, yes_minus_no: torch.Tensor | None):
        self.key = key
        self.tokenizer = tokenizer
        self.backbone = backbone
        self.yes_minus_no = yes_minus_no
        self.device: torch.device = backbone.device
        self.dtype: torch.dtype = backbone.dtype
        self.hidden_size: int = backbone.config.hidden_size
        self.pad_id: int = token_id(tokenizer, END_OF_TEXT)
        self.attention_path, self.attend = choose(self.device, self.dtype, unsupported(backbone.config))
        plain_text_tokenizer(tokenizer)  # built once here, as part of loading, not inside the first call
        # One call at a time per model: fast tokenizers are not safe to share across threads, and the
        # device runs one forward at a time anyway. Async adapters call in from worker threads.
        self.lock = threading.Lock()

    @property
    def packs_batches(self) -> bool:
        """Whether batches run without padding, so a token budget counts real tokens only."""
        return self.attend is not None


# Weak values: a model stays loaded while some Embedder/Reranker (or adapter) holds it, no longer.
_loaded: weakref.WeakValueDictionary[LoadKey, LoadedModel] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def load_model(kind: Kind, source: str, *, revision: str | None = None,
               device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
               allow_pickle: bool = False, token: str | bool | None = None,
               local_files_only: bool = False) -> LoadedModel:
    """Return the shared LoadedModel for these settings, loading it on first use.

    Weights load from safetensors only, unless `allow_pickle` accepts pickle files (which can run
    code when read) from a source the caller trusts. `token` is a hub access token (None: the
    one huggingface_hub finds); `local_files_only` reads the hub cache alone. Neither is part of
    the sharing key: they change how the same weights are fetched, not which.
    """
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    key = LoadKey(kind, normalise_source(source), revision, str(resolved_device), str(resolved_dtype))
    with _lock:
        model = _loaded.get(key)
        if model is None:
            if resolved_device.type == "cpu" and resolved_dtype == torch.bfloat16 and not cpu_runs_bf16_natively():
                warnings.warn("dtype='bfloat16' on a CPU without bfloat16 matrix units (AVX512-BF16 or AMX) is "
                              "emulated and usually slower than float32; use dtype='float32' here", stacklevel=3)
            known = KNOWN_CHECKPOINTS.get(key.source)
            if known is not None and known.kind != kind:  # before any network access
                raise ModelLoadError(f"{key.source} is a {known.kind} checkpoint, not a {kind} one")
            access = resolve_access(kind, key.source, revision, token, local_files_only)
            model = _load(key, resolved_device, resolved_dtype, allow_pickle, access)
            _loaded[key] = model
        return model


def normalise_source(source: str) -> str:
    if not isinstance(source, str | os.PathLike):
        raise ModelLoadError(f"model must be a hub id or a local directory, got {type(source).__name__}")
    text = os.fspath(source)
    if os.path.isdir(text):
        return os.path.realpath(text)
    looks_like_path = text.startswith((".", "/", "~", "\\")) or text.count("/") > 1 or os.path.exists(text)
    if looks_like_path:
        raise ModelLoadError(
            f"model={text!r} is not an existing directory (nor a hub id like 'Qwen/Qwen3-Embedding-0.6B')"
        )
    return text


def _load(key: LoadKey, device: torch.device, dtype: torch.dtype, allow_pickle: bool,
          access: dict[str, Any]) -> LoadedModel:
    if _TRANSFORMERS < MIN_TRANSFORMERS:
        raise ModelLoadError(
            f"transformers {_TRANSFORMERS} is too old for qwen3-rag; install 'transformers>={MIN_TRANSFORMERS}'"
        )
    common = {**access, "trust_remote_code": False}
    try:
        config = transformers.AutoConfig.from_pretrained(key.source, **common)
        _check_qwen3(key.source, config)
        tokenizer = transformers.AutoTokenizer.from_pretrained(key.source, **common)
        _check_tokenizer(key, tokenizer, config)
        model_class = transformers.AutoModel if key.kind == "embedding" else transformers.AutoModelForCausalLM
        model: Any = model_class.from_pretrained(
            key.source, config=config, use_safetensors=None if allow_pickle else True, attn_implementation="sdpa",
            dtype=dtype, **common
        )
    except ModelLoadError:
        raise
    except (OSError, ValueError, RuntimeError) as error:  # RuntimeError: weights of other shapes than config.json
        if not allow_pickle and _has_only_pickle_weights(key.source):
            raise ModelLoadError(
                f"{key.source} holds only pickle weights (*.bin / *.pt); qwen3-rag loads safetensors, because "
                "reading a pickle can run code. Convert the checkpoint to safetensors, or pass allow_pickle=True "
                "if you trust its source"
            ) from error
        where = f" at revision {key.revision!r}" if key.revision else ""
        if isinstance(error, RuntimeError) and "mismatch" in str(error):
            raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{where}: its config.json does not "
                                 "describe its weights (tensor shapes differ); use the checkpoint's own config.json"
                                 ) from error
        raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{where}: {error}") from error
    model.to(device).eval().requires_grad_(False)
    if key.kind == "embedding":
        return LoadedModel(key, tokenizer, model, None)
    head = model.get_output_embeddings().weight
    yes_minus_no = (head[token_id(tokenizer, YES_TOKEN)].float() - head[token_id(tokenizer, NO_TOKEN)].float())
    return LoadedModel(key, tokenizer, model.model, yes_minus_no.detach().clone())


def load_tokenizer(kind: Kind, source: str, *, revision: str | None = None, token: str | bool | None = None,
                   local_files_only: bool = False) -> tuple[Any, Any]:
    """The tokenizer and config of a checkpoint, without its weights (for a model served elsewhere)."""
    source = normalise_source(source)
    access = resolve_access(kind, source, revision, token, local_files_only)
    common = {**access, "trust_remote_code": False}
    where = f" at revision {revision!r}" if revision else ""
    try:
        config = transformers.AutoConfig.from_pretrained(source, **common)
        _check_qwen3(source, config)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, **common)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"could not load the tokenizer of {kind} model {source!r}{where}: {error}") from error
    _check_tokenizer(LoadKey(kind, source, revision, "cpu", "-"), tokenizer, config)
    return tokenizer, config


def _check_qwen3(source: str, config: Any) -> None:
    if config.model_type != "qwen3":
        raise ModelLoadError(
            f"{source} is a {config.model_type!r} model; qwen3-rag runs Qwen3-Embedding and "
            "Qwen3-Reranker checkpoints (model_type 'qwen3')"
        )


def _check_tokenizer(key: LoadKey, tokenizer: Any, config: Any) -> None:
    """The Qwen BPE with its closing token inside the model's vocabulary, or a clear error.

    Without tokenizer files transformers still returns a tokenizer, and a mismatched one would
    produce ids the embedding table does not have.
    """
    try:
        end_of_text = token_id(tokenizer, END_OF_TEXT)
    except KeyError:
        end_of_text = None
    if end_of_text is None or len(tokenizer) > config.vocab_size:
        found = "no '<|endoftext|>' token" if end_of_text is None else (
            f"{len(tokenizer)} tokens for a model of {config.vocab_size}")
        raise ModelLoadError(f"{key.source} has no usable Qwen3 tokenizer ({found}): its tokenizer files "
                             "(tokenizer.json, tokenizer_config.json) are missing or belong to another model; copy "
                             "them from the same hub checkpoint")


def _has_only_pickle_weights(source: str) -> bool:
    if not os.path.isdir(source):
        return False
    names = os.listdir(source)
    has_pickle = any(name.endswith((".bin", ".pt", ".pth")) for name in names)
    return has_pickle and not any(name.endswith(".safetensors") for name in names)
