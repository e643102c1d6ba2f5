"""Loading Qwen3 checkpoints once per process and sharing them between every caller."""

from __future__ import annotations

import os
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import torch
from tokenizers import Tokenizer

from ..checkpoint.contents import read_checkpoint, read_config, weight_files
from ..checkpoint.hub import resolve_access
from ..checkpoint.identity import check_role
from ..checkpoint.tokenizer import (
    UNUSABLE_FILES,
    Kind,
    check_qwen3,
    check_tokenizer,
    direct_allowed,
    normalise_source,
    rust_tokenizer,
    transformers_module,
)
from ..checkpoint.tokenizer import at_revision as _at
from ..errors import ModelLoadError
from ..registry import END_OF_TEXT, NO_TOKEN, YES_TOKEN
from ..settings import ModelSettings
from ..tokenization import plain_text_tokenizer, token_id
from . import weights
from .attention import Attend, choose, in_bfloat16
from .forward import unsupported
from .int8 import quantize_decoder, warn_if_slower
from .runtime import cpu_runs_bf16_natively, quantized_mode, resolve_device, resolve_dtype

Loader = Literal["direct", "transformers"]


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
    "direct" (read without transformers; see `weights.py`).

    `yes_minus_no` is the fp32 vector W[yes] - W[no] from the output layer, so that a score is one
    dot product with the last hidden state; the vocabulary-sized head itself is not kept.

    `attention_path` names how forward passes run (see `attention.py`); `attend` is the packed
    attention for it, or None when transformers' own padded forward runs.

    `quantization` is "int8" when the decoder's linear layers run in int8 (`int8.py`); `dtype` is
    then float32, the dtype of everything else.
    """

    # Any: transformers' modules are typed as plain nn.Module, whose attributes mypy cannot see.
    def __init__(
        self,
        key: LoadKey,
        tokenizer: Tokenizer,
        backbone: Any,
        yes_minus_no: torch.Tensor | None,
        attention: tuple[str, Attend | None],
        loader: Loader,
    ):
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
    def compute_dtype(self) -> str:
        """What the linear layers compute in: "int8", or the torch dtype's name ("torch.float32")."""
        return self.quantization or str(self.dtype)

    @property
    def packs_batches(self) -> bool:
        """Whether batches run without padding, so a token budget counts real tokens only."""
        return self.attend is not None


# Weak values: a model stays loaded while some Embedder/Reranker (or adapter) holds it, no longer.
_loaded: weakref.WeakValueDictionary[LoadKey, LoadedModel] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def load_model(
    kind: Kind,
    source: str,
    *,
    revision: str | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    allow_pickle: bool = False,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> LoadedModel:
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
                warnings.warn(
                    "dtype='bfloat16' on a CPU without bfloat16 matrix units (AVX512-BF16 or AMX) is "
                    "emulated and usually slower than float32; use dtype='float32' here",
                    stacklevel=4,
                )
            check_role(kind, key.source)  # before any network access or weights
            access = resolve_access(kind, key.source, revision, token, local_files_only)
            model = _load(key, resolved_device, resolved_dtype, allow_pickle, access)
            if quantization is not None:
                _quantize(model)
            _loaded[key] = model
        return model


def load_with(settings: ModelSettings) -> LoadedModel:
    """`load_model` for the checkpoint, device and dtype that `settings` name (a model run in this process)."""
    return load_model(
        settings.kind,
        settings.checkpoint,
        device=settings.device,
        dtype=settings.dtype,
        allow_pickle=settings.allow_pickle,
        **settings.hub_access(),
    )


def _quantize(model: LoadedModel) -> None:
    """The int8 mode: built once here, shared with every caller of this model like its weights. Where the
    CPU has bfloat16 units, the packed attention runs in bfloat16 too (`int8.py` says why)."""
    warn_if_slower()
    quantize_decoder(model.backbone)
    model.quantization = "int8"
    if model.attend is not None and model.device.type == "cpu" and cpu_runs_bf16_natively():
        model.attend = in_bfloat16(model.attend)
        model.attention_path += "-bf16"


def _load(
    key: LoadKey, device: torch.device, dtype: torch.dtype, allow_pickle: bool, access: dict[str, Any]
) -> LoadedModel:
    """Straight from the checkpoint's files when `direct` can read them and the packed pass runs, else
    through transformers; both give the same tokenizer and weights (the parity tests run both)."""
    attention = choose(device, dtype, None)
    if attention[1] is not None and direct_allowed():
        loaded = _load_directly(key, device, dtype, attention, access)
        if loaded is not None:
            return loaded
    return _load_with_transformers(key, device, dtype, allow_pickle, access, attention)


def _load_directly(
    key: LoadKey, device: torch.device, dtype: torch.dtype, attention: tuple[str, Attend | None], access: dict[str, Any]
) -> LoadedModel | None:
    checkpoint = read_checkpoint(key.source, access)
    files = weight_files(key.source, access) if checkpoint is not None else None
    if checkpoint is None or files is None:
        return None
    check_tokenizer(key.source, checkpoint.tokenizer, checkpoint.shape)
    rows = (
        [token_id(checkpoint.tokenizer, YES_TOKEN), token_id(checkpoint.tokenizer, NO_TOKEN)]
        if key.kind == "reranker"
        else []
    )
    try:
        backbone, head = weights.load_decoder(checkpoint.shape, files, device, dtype, rows)
    except ModelLoadError as error:
        raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: {error}") from None
    except RuntimeError as error:  # strict loading: names or shapes other than config.json describes
        raise _weights_error(key, error) from error
    except Exception as error:  # noqa: BLE001 - safetensors' own error type for a damaged file
        raise ModelLoadError(
            f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: {type(error).__name__}: {error}"
        ) from error
    yes_minus_no = None if head is None else (head[0].float() - head[1].float())
    return LoadedModel(key, checkpoint.tokenizer, backbone, yes_minus_no, attention, "direct")


def _load_with_transformers(
    key: LoadKey,
    device: torch.device,
    dtype: torch.dtype,
    allow_pickle: bool,
    access: dict[str, Any],
    plain_attention: tuple[str, Attend | None],
) -> LoadedModel:
    transformers = transformers_module()
    common = {**access, "trust_remote_code": False}
    _check_weight_sizes(key, access)
    try:
        config = transformers.AutoConfig.from_pretrained(key.source, **common)
        check_qwen3(key.source, config)
        tokenizer = rust_tokenizer(transformers.AutoTokenizer.from_pretrained(key.source, **common))
        check_tokenizer(key.source, tokenizer, config)
        model_class = transformers.AutoModel if key.kind == "embedding" else transformers.AutoModelForCausalLM
        model: Any = model_class.from_pretrained(
            key.source,
            config=config,
            use_safetensors=None if allow_pickle else True,
            attn_implementation="sdpa",
            dtype=dtype,
            **common,
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
    yes_minus_no = head[token_id(tokenizer, YES_TOKEN)].float() - head[token_id(tokenizer, NO_TOKEN)].float()
    return LoadedModel(key, tokenizer, model.model, yes_minus_no.detach().clone(), attention, "transformers")


def _check_weight_sizes(key: LoadKey, access: dict[str, Any]) -> None:
    """transformers builds whatever config.json says (its config objects too) before it reads a weight,
    so a config that lies (a billion layers) would fill memory first: its sizes are checked against
    the safetensors headers."""
    config = read_config(key.source, access)
    if config is None or config.get("model_type") != "qwen3":  # reported below, before any weight is fetched
        return
    files = weight_files(key.source, access)
    if files is None:  # pickle weights only: refused, or read as allowed, below
        return
    try:
        weights.check_sizes(config, weights.weight_shapes(files))
    except ModelLoadError as error:
        raise ModelLoadError(f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: {error}") from None


def _weights_error(key: LoadKey, error: RuntimeError) -> ModelLoadError:
    detail = " ".join(str(error).split()) or type(error).__name__
    detail = detail if len(detail) <= 400 else detail[:400] + " ..."
    if "mismatch" in str(error):
        return ModelLoadError(
            f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: its config.json "
            "does not describe its weights (tensor shapes differ); use the checkpoint's own "
            "config.json"
        )
    return ModelLoadError(
        f"could not load {key.kind} model {key.source!r}{_at(key.revision)}: its weights do not "
        f"match a Qwen3 {key.kind} model ({detail})"
    )


def _has_only_pickle_weights(source: str) -> bool:
    if not os.path.isdir(source):
        return False
    names = os.listdir(source)
    has_pickle = any(name.endswith((".bin", ".pt", ".pth")) for name in names)
    return has_pickle and not any(name.endswith(".safetensors") for name in names)
