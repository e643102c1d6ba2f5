"""Loading Qwen3 checkpoints once per process and sharing them between every caller."""

from __future__ import annotations

import os
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import torch
from huggingface_hub.errors import StrictDataclassError
from packaging.version import Version
from tokenizers import Tokenizer

from ..errors import InvalidArgumentError, ModelLoadError
from ..registry import END_OF_TEXT, KNOWN_CHECKPOINTS, NO_TOKEN, YES_TOKEN
from ..tokenization import plain_text_tokenizer, token_id
from . import direct
from .attention import Attend, choose
from .hub import resolve_access
from .int8 import quantize_decoder, warn_if_slower
from .packed import unsupported
from .runtime import cpu_runs_bf16_natively, quantized_mode, resolve_device, resolve_dtype

# How transformers reports checkpoint files it cannot use; its config classes validate themselves
# through huggingface_hub's strict dataclasses, whose errors are plain Exceptions.
UNUSABLE_FILES = (OSError, ValueError, StrictDataclassError)

Kind = Literal["embedding", "reranker"]
Loader = Literal["direct", "transformers"]
LOADER_VARIABLE = "QWEN3_RAG_LOADER"  # "transformers" turns the direct loader off (read at each load)
BYTE_TOKENS = 256  # a byte-level BPE's vocabulary starts with one token per byte
MIN_TRANSFORMERS = Version("5.0.0")  # the cache-layer API the reranker kernel builds on


@dataclass(frozen=True)
class LoadKey:
    kind: Kind
    source: str
    revision: str | None
    device: str
    dtype: str


class LoadedModel:
    """A tokenizer and a Qwen3 backbone (no LM head) on one device; the reranker adds its yes/no head.

    `tokenizer` is the Rust tokenizer (`tokenizers.Tokenizer`) the checkpoint defines. `backbone`
    is transformers' `Qwen3Model`, or the same weights in `decoder.Decoder` when `loader` is
    "direct" (read without transformers; see `direct.py`).

    `yes_minus_no` is the fp32 vector W[yes] - W[no] from the output layer, so that a score is one
    dot product with the last hidden state; the vocabulary-sized head itself is not kept.

    `attention_path` names how forward passes run (see `attention.py`); `attend` is the packed
    attention for it, or None when transformers' own padded forward runs.

    `quantization` is "int8" when the decoder's linear layers run in int8 (`int8.py`); `dtype` is
    then float32, the dtype of everything else.
    """

    # Any: transformers' modules are typed as plain nn.Module, whose attributes mypy cannot see.
    def __init__(self, key: LoadKey, tokenizer: Tokenizer, backbone: Any, yes_minus_no: torch.Tensor | None,
                 attention: tuple[str, Attend | None], loader: Loader):
        self.key = key
        self.tokenizer = tokenizer
        self.backbone = backbone
        self.yes_minus_no = yes_minus_no
        self.loader = loader
        self.device: torch.device = backbone.device
        self.dtype: torch.dtype = backbone.dtype
        self.hidden_size: int = backbone.config.hidden_size
        self.pad_id: int = token_id(tokenizer, END_OF_TEXT)
        self.attention_path, self.attend = attention
        self.quantization: str | None = None
        plain_text_tokenizer(tokenizer)  # built once here, as part of loading, not inside the first call
        # One call at a time per model: fast tokenizers are not safe to share across threads, and the
        # device runs one forward at a time anyway. Async adapters call in from worker threads.
        self.lock = threading.Lock()

    @property
    def precision(self) -> str:
        """What the linear layers compute in: "int8", or the torch dtype's name ("torch.float32")."""
        return self.quantization or str(self.dtype)

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
    quantization = quantized_mode(dtype, resolved_device)
    key = LoadKey(kind, normalise_source(source), revision, str(resolved_device), quantization or str(resolved_dtype))
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
            if quantization is not None:
                _quantize(model)
            _loaded[key] = model
        return model


def _quantize(model: LoadedModel) -> None:
    """The int8 mode: built once here, shared with every caller of this model like its weights."""
    warn_if_slower()
    quantize_decoder(model.backbone)
    model.quantization = "int8"


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
    """Straight from the checkpoint's files when `direct` can read them and the packed pass runs, else
    through transformers; both give the same tokenizer and weights (the parity tests run both)."""
    attention = choose(device, dtype, None)
    if attention[1] is not None and _direct_allowed():
        loaded = _load_directly(key, device, dtype, attention, access)
        if loaded is not None:
            return loaded
    return _load_with_transformers(key, device, dtype, allow_pickle, access, attention)


def _direct_allowed() -> bool:
    setting = os.environ.get(LOADER_VARIABLE, "auto").strip().lower() or "auto"
    if setting not in ("auto", "transformers"):
        raise InvalidArgumentError(f"${LOADER_VARIABLE}={setting!r} is not a loader; use 'auto' (the default: read "
                                   "standard checkpoints directly) or 'transformers'")
    return setting == "auto"


def _load_directly(key: LoadKey, device: torch.device, dtype: torch.dtype, attention: tuple[str, Attend | None],
                   access: dict[str, Any]) -> LoadedModel | None:
    checkpoint = direct.read_checkpoint(key.source, access)
    files = direct.weight_files(key.source, access) if checkpoint is not None else None
    if checkpoint is None or files is None:
        return None
    _check_tokenizer(key, checkpoint.tokenizer, checkpoint.shape)
    rows = [token_id(checkpoint.tokenizer, YES_TOKEN), token_id(checkpoint.tokenizer, NO_TOKEN)] \
        if key.kind == "reranker" else []
    try:
        backbone, head = direct.load_decoder(checkpoint.shape, files, device, dtype, rows)
    except ModelLoadError as error:
        raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: {error}") from None
    except RuntimeError as error:  # strict loading: names or shapes other than config.json describes
        raise _weights_error(key, error) from error
    except Exception as error:  # noqa: BLE001 - safetensors' own error type for a damaged file
        raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: "
                             f"{type(error).__name__}: {error}") from error
    yes_minus_no = None if head is None else (head[0].float() - head[1].float())
    return LoadedModel(key, checkpoint.tokenizer, backbone, yes_minus_no, attention, "direct")


def _load_with_transformers(key: LoadKey, device: torch.device, dtype: torch.dtype, allow_pickle: bool,
                            access: dict[str, Any], plain_attention: tuple[str, Attend | None]) -> LoadedModel:
    transformers = _transformers()
    common = {**access, "trust_remote_code": False}
    _check_weight_sizes(key, access)
    try:
        config = transformers.AutoConfig.from_pretrained(key.source, **common)
        _check_qwen3(key.source, config)
        tokenizer = _rust_tokenizer(transformers.AutoTokenizer.from_pretrained(key.source, **common))
        _check_tokenizer(key, tokenizer, config)
        model_class = transformers.AutoModel if key.kind == "embedding" else transformers.AutoModelForCausalLM
        model: Any = model_class.from_pretrained(
            key.source, config=config, use_safetensors=None if allow_pickle else True, attn_implementation="sdpa",
            dtype=dtype, **common
        )
    except ModelLoadError:
        raise
    except (*UNUSABLE_FILES, RuntimeError) as error:  # RuntimeError: weights of other shapes than config.json
        if not allow_pickle and _has_only_pickle_weights(key.source):
            raise ModelLoadError(
                f"{key.source} holds only pickle weights (*.bin / *.pt); qwen3-rag loads safetensors, because "
                "reading a pickle can run code. Convert the checkpoint to safetensors, or pass allow_pickle=True "
                "if you trust its source"
            ) from error
        if isinstance(error, RuntimeError) and "mismatch" in str(error):
            raise _weights_error(key, error) from error
        raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: {error}") from error
    model.to(device).eval().requires_grad_(False)
    reason = unsupported(config)
    attention = choose(device, dtype, reason) if reason else plain_attention
    if key.kind == "embedding":
        return LoadedModel(key, tokenizer, model, None, attention, "transformers")
    head = model.get_output_embeddings().weight
    yes_minus_no = (head[token_id(tokenizer, YES_TOKEN)].float() - head[token_id(tokenizer, NO_TOKEN)].float())
    return LoadedModel(key, tokenizer, model.model, yes_minus_no.detach().clone(), attention, "transformers")


def _check_weight_sizes(key: LoadKey, access: dict[str, Any]) -> None:
    """transformers builds whatever config.json says (its config objects too) before it reads a weight,
    so a config that lies (a billion layers) would fill memory first: its sizes are checked against
    the safetensors headers."""
    config = direct.read_config(key.source, access)
    if config is None or config.get("model_type") != "qwen3":  # reported below, before any weight is fetched
        return
    files = direct.weight_files(key.source, access)
    if files is None:  # pickle weights only: refused, or read as allowed, below
        return
    try:
        direct.check_sizes(config, direct.weight_shapes(files))
    except ModelLoadError as error:
        raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: {error}") from None


def load_tokenizer(kind: Kind, source: str, *, revision: str | None = None, token: str | bool | None = None,
                   local_files_only: bool = False) -> tuple[Tokenizer, Any]:
    """The tokenizer and config (its `hidden_size`, `vocab_size`) of a checkpoint, without its weights
    (for a model served elsewhere)."""
    source = normalise_source(source)
    access = resolve_access(kind, source, revision, token, local_files_only)
    key = LoadKey(kind, source, revision, "cpu", "-")
    checkpoint = direct.read_checkpoint(source, access) if _direct_allowed() else None
    if checkpoint is not None:
        _check_tokenizer(key, checkpoint.tokenizer, checkpoint.shape)
        return checkpoint.tokenizer, checkpoint.shape
    transformers = _transformers()
    common = {**access, "trust_remote_code": False}
    try:
        config = transformers.AutoConfig.from_pretrained(source, **common)
        _check_qwen3(source, config)
        tokenizer = _rust_tokenizer(transformers.AutoTokenizer.from_pretrained(source, **common))
    except UNUSABLE_FILES as error:
        raise ModelLoadError(f"could not load the tokenizer of {kind} model {source!r}{_at(revision)}: "
                             f"{error}") from error
    _check_tokenizer(key, tokenizer, config)
    return tokenizer, config


def _transformers() -> Any:
    """transformers, imported on first use (seconds on a small CPU) and checked for the API used here."""
    import transformers

    if Version(transformers.__version__) < MIN_TRANSFORMERS:
        raise ModelLoadError(f"transformers {transformers.__version__} is too old for qwen3-rag; install "
                             f"'transformers>={MIN_TRANSFORMERS}'")
    return transformers


def _rust_tokenizer(tokenizer: Any) -> Tokenizer:
    """The Rust tokenizer inside a transformers one, with no truncation or padding of its own."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer):
        raise ModelLoadError(f"qwen3-rag needs a fast (Rust) tokenizer, got {type(tokenizer).__name__}")
    backend.no_truncation()
    backend.no_padding()
    return backend


def _at(revision: str | None) -> str:
    return f" at revision {revision!r}" if revision else ""


def _weights_error(key: LoadKey, error: RuntimeError) -> ModelLoadError:
    detail = " ".join(str(error).split()) or type(error).__name__
    detail = detail if len(detail) <= 400 else detail[:400] + " ..."
    if "mismatch" in str(error):
        return ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: its config.json "
                              "does not describe its weights (tensor shapes differ); use the checkpoint's own "
                              "config.json")
    return ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: its weights do not "
                          f"match a Qwen3 {key.kind} model ({detail})")


def _check_qwen3(source: str, config: Any) -> None:
    if config.model_type != "qwen3":
        raise ModelLoadError(
            f"{source} is a {config.model_type!r} model; qwen3-rag runs Qwen3-Embedding and "
            "Qwen3-Reranker checkpoints (model_type 'qwen3')"
        )


def _check_tokenizer(key: LoadKey, tokenizer: Tokenizer, config: Any) -> None:
    """A byte-level BPE with the closing token, inside the model's vocabulary, or a clear error.

    Without tokenizer files transformers still returns a tokenizer (a one-token vocabulary), and a
    mismatched one would produce ids the embedding table does not have.
    """
    try:
        end_of_text = token_id(tokenizer, END_OF_TEXT)
    except KeyError:
        end_of_text = None
    base, size = tokenizer.get_vocab_size(with_added_tokens=False), tokenizer.get_vocab_size(with_added_tokens=True)
    if end_of_text is None or base < BYTE_TOKENS or size > config.vocab_size:
        found = "no '<|endoftext|>' token" if end_of_text is None else (
            f"a vocabulary of {base} tokens, not a byte-level BPE" if base < BYTE_TOKENS else
            f"{size} tokens for a model of {config.vocab_size}")
        raise ModelLoadError(f"{key.source} has no usable Qwen3 tokenizer ({found}): its tokenizer files "
                             "(tokenizer.json, tokenizer_config.json) are missing or belong to another model; copy "
                             "them from the same hub checkpoint")


def _has_only_pickle_weights(source: str) -> bool:
    if not os.path.isdir(source):
        return False
    names = os.listdir(source)
    has_pickle = any(name.endswith((".bin", ".pt", ".pth")) for name in names)
    return has_pickle and not any(name.endswith(".safetensors") for name in names)
