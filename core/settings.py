"""The settings a model object is made from: one frozen object per kind of model, checked once, without
loading weights or contacting a server.

`EmbedderSettings` and `RerankerSettings` are the single place where each setting is named, given its
default and its one-line description, and checked. The constructors (`Embedder`, `Reranker` and their
served twins) read them; so do the LangChain/LlamaIndex pydantic fields, Haystack's serialisation
and the command line's model options (generated from the fields below), Ray's driver-side check and the
index's record of what its vectors depend on (`VectorSettings`). Every setting says where it applies: to any
model, to a model running in this process, or to a model behind `base_url`; one that does not apply where
the model runs is refused, never ignored.

The keyword arguments of the constructors are typed by the `TypedDict`s at the bottom (PEP 692), a
view of the same names for type checkers; `tests/test_settings.py` keeps them equal to the fields.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self, TypedDict

from .checkpoint.tokenizer import normalise_source
from .errors import InvalidArgumentError, UnknownArgumentError
from .presets import PRESETS, resolve_task
from .registry import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL, KNOWN_CHECKPOINTS, MIN_EMBEDDING_DIM
from .validation import check_base_url, check_bool, check_dim, check_positive_int, check_timeout

Runs = Literal["any", "here", "served"]
DEFAULT_MAX_LENGTH = 8192
DEFAULT_MAX_REPLY_BYTES = 64 * 2**20  # a batch of 64 vectors of 4,096 floats is about 6 MB of JSON
# The names `dtype` takes, listed once: each one that names a torch dtype, with that dtype's name in torch
# (`kernels/runtime.py` maps it with getattr(torch, name); this module does not import torch), and the names of
# the CPU int8 mode, which is not a dtype: linear layers in int8, everything else in float32 (kernels/int8.py).
TORCH_DTYPE_NAMES: dict[str, str] = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}
QUANTIZED_DTYPE_NAMES = ("int8",)
DTYPE_NAMES = (*TORCH_DTYPE_NAMES, *QUANTIZED_DTYPE_NAMES)
_DEVICE = re.compile(r"(cpu|cuda|mps)(:\d+)?")


def setting(default: Any, help: str, runs: Runs = "any", secret: bool = False) -> Any:
    """A settings field: its default, one line for docs, the adapters' field descriptions and the command
    line's help (so worded for both: no Python-only words), where it applies; a secret is left out of `repr`
    (and of the adapters' serialised fields)."""
    return field(default=default, repr=not secret, metadata={"help": help, "runs": runs, "secret": secret})


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    """What both kinds of model are made from; see `EmbedderSettings` and `RerankerSettings`."""

    kind: ClassVar[Literal["embedding", "reranker"]]
    default_model: ClassVar[str]
    served_batch_size: ClassVar[int]  # inputs per request when batch_size is None

    model: str | None = setting(
        None,
        "Hub id or local directory of the checkpoint (default: the 0.6B one); for a served model, its name on the "
        "server (default: the server's only model).",
    )
    instruction: str | None = setting(
        None, f"Task instruction: a preset ({', '.join(PRESETS)}) or a sentence (default: web_search)."
    )
    max_length: int = setting(DEFAULT_MAX_LENGTH, "Tokens per input; longer inputs are cut with a warning.")
    batch_size: int | None = setting(
        None, "At most this many inputs per forward pass (per request with base_url); None: no cap (64/32 served)."
    )
    progress_bar: bool = setting(False, "Show a progress bar over batches.")
    revision: str | None = setting(None, "Hub revision (branch, tag or commit) to pin.")
    token: str | bool | None = setting(
        None,
        "Hub access token for private or gated checkpoints; None: the one huggingface_hub finds (HF_TOKEN).",
        secret=True,
    )
    local_files_only: bool = setting(False, "Read the hub cache only, never the network.")
    device: str | None = setting(None, "cpu, cuda, cuda:N or mps (default: the best available).", "here")
    dtype: str | None = setting(
        None,
        "float32, bfloat16, float16, or int8 (CPU fast mode: int8 linear layers) (default: bfloat16 on CUDA, "
        "else float32).",
        "here",
    )
    batch_tokens: int | None = setting(
        None,
        "Token budget of one forward pass: the texts' lengths summed where a batch is packed without padding "
        "(CPU; CUDA bf16 on a variable-length attention kernel), else texts x the longest (default: 2048 on CPU, "
        "65536 on CUDA).",
        "here",
    )
    allow_pickle: bool = setting(
        False, "Accept checkpoints with only pickle weights (reading them can run code): trusted ones only.", "here"
    )
    base_url: str | None = setting(
        None,
        "A vLLM (OpenAI-style) server running the model, e.g. http://localhost:8000 (default: none, the model runs "
        "in this process).",
        "served",
    )
    api_key: str | None = setting(None, "Bearer token for base_url.", "served", secret=True)
    tokenizer: str | None = setting(
        None, "Hub id or local directory of the served checkpoint; None: the one the server names.", "served"
    )
    timeout: float = setting(120.0, "Seconds for one request, to the last byte of its reply.", "served")
    retries: int = setting(3, "Resends when the transport fails or a request runs out of time.", "served")
    concurrency: int = setting(4, "Requests in flight per call.", "served")
    max_reply_bytes: int = setting(
        DEFAULT_MAX_REPLY_BYTES, "The most bytes read from one reply; a larger one is an error.", "served"
    )

    def __new__(cls, *args: Any, **values: Any) -> Self:
        # Runs before the dataclass's __init__, so that an unknown name gets the list of settings (and stays a
        # Qwen3RagError) rather than Python's bare "unexpected keyword argument".
        refuse_unknown(cls.__name__, values, cls.placement(), noun="setting")
        return super().__new__(cls)

    def __post_init__(self) -> None:
        served = self.base_url is not None
        misplaced = [
            f"{name}="
            for name, runs in self.placement().items()
            if runs == ("here" if served else "served")
            and getattr(self, name) != _default(type(self), name)
            and name != "base_url"
        ]
        if misplaced:
            where = (
                "set(s) how a model runs in this process; with base_url= the server runs it, so leave them out"
                if served
                else "appl(y/ies) to a served model only; pass base_url= too, or leave them out"
            )
            raise InvalidArgumentError(f"{', '.join(misplaced)} {where}")
        if self.model is not None and not served:
            normalise_source(self.model)
        resolve_task(self.instruction)
        for name in ("progress_bar", "local_files_only", "allow_pickle"):
            check_bool(getattr(self, name), name)
        for name in ("batch_size", "batch_tokens"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        check_positive_int(self.max_length, "max_length", minimum=2 if self.kind == "embedding" else 1)
        if self.device is not None and not _DEVICE.fullmatch(_torch_name(self.device) or ""):
            raise InvalidArgumentError(
                f"device={self.device!r} is not a device; use one of 'cpu', 'cuda', 'cuda:N', 'mps' or None (auto)"
            )
        if self.dtype is not None and _torch_name(self.dtype, lower=True) not in DTYPE_NAMES:
            raise InvalidArgumentError(
                f"dtype={self.dtype!r} is not supported; use 'float32', 'bfloat16', 'float16' (or the torch dtypes), "
                "'int8' (CPU fast mode) or None"
            )
        if served:
            check_base_url(self.base_url)
            check_timeout(self.timeout)
            for name in ("retries", "concurrency", "max_reply_bytes"):
                check_positive_int(getattr(self, name), name, minimum=0 if name == "retries" else 1)

    @classmethod
    def placement(cls) -> dict[str, Runs]:
        """Each setting's name and where it applies: "any", "here" (in this process) or "served"."""
        return {f.name: f.metadata["runs"] for f in dataclasses.fields(cls)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Settings from a mapping of names (None values mean the default); an unknown name is refused by name."""
        refuse_unknown(cls.__name__, values, cls.placement(), noun="setting")
        return cls(**{name: value for name, value in values.items() if value is not None})

    @classmethod
    def for_constructor(cls, constructor: type, allowed: type, options: Mapping[str, Any], **fixed: Any) -> Self:
        """The settings of `constructor(**fixed, **options)`; a name outside `allowed` (its options' TypedDict)
        is refused by name, with the names it takes."""
        options = dict(options)
        if "max_batch" in options and getattr(constructor, "served", False):
            warnings.warn(
                f"{constructor.__name__}(max_batch=...) is now batch_size=..., the name every class takes",
                DeprecationWarning,
                stacklevel=4,
            )
            if "batch_size" in options:
                raise InvalidArgumentError("pass batch_size= only, not also max_batch= (its old name)")
            options["batch_size"] = options.pop("max_batch")
        refuse_unknown(constructor.__name__, options, [*allowed.__annotations__, *fixed])
        return cls(**fixed, **options)

    @property
    def served(self) -> bool:
        return self.base_url is not None

    @property
    def checkpoint(self) -> str:
        """The checkpoint asked for: `model` or the kind's default (a served model's is its `tokenizer`)."""
        return self.model if self.model is not None else self.default_model

    def hub_access(self) -> dict[str, Any]:
        """How the checkpoint's files are fetched (weights here, the tokenizer for a served model)."""
        return {"revision": self.revision, "token": self.token, "local_files_only": self.local_files_only}


@dataclass(frozen=True, kw_only=True)
class EmbedderSettings(ModelSettings):
    """The settings of an `Embedder` (or, with `base_url`, a `RemoteEmbedder`)."""

    kind: ClassVar[Literal["embedding", "reranker"]] = "embedding"
    default_model: ClassVar[str] = DEFAULT_EMBEDDING_MODEL
    served_batch_size: ClassVar[int] = 64

    dim: int | None = setting(None, "Embedding size, 32..hidden size (Matryoshka) (default: the full size).")
    symmetric: bool | None = setting(
        None, "Put the instruction on documents too (STS, clustering); None: as the preset says."
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.symmetric is not None:
            check_bool(self.symmetric, "symmetric")
        if self.dim is not None:
            width = None if self.served else _known_width(self.checkpoint)
            if width is not None:
                check_dim(self.dim, width, self.checkpoint)
            else:  # the width is checked once the model (or the server's config) is read
                check_positive_int(self.dim, "dim", minimum=MIN_EMBEDDING_DIM)


@dataclass(frozen=True, kw_only=True)
class RerankerSettings(ModelSettings):
    """The settings of a `Reranker` (or, with `base_url`, a `RemoteReranker`)."""

    kind: ClassVar[Literal["embedding", "reranker"]] = "reranker"
    default_model: ClassVar[str] = DEFAULT_RERANKER_MODEL
    served_batch_size: ClassVar[int] = 32


def refuse_unknown(owner: str, given: Iterable[str], taken: Iterable[str], noun: str = "argument") -> None:
    """Raise naming the names in `given` that `owner` does not take, and the ones it does: a TypeError, as
    Python's own for an unexpected keyword (`UnknownArgumentError`)."""
    unknown = sorted(set(given) - set(taken))
    if unknown:
        raise UnknownArgumentError(
            f"{owner} got unknown {noun}(s) {', '.join(unknown)}; it takes {', '.join(sorted(set(taken)))}"
        )


def _known_width(checkpoint: str) -> int | None:
    """The hidden size, when it is known without a download: a published checkpoint or a local config."""
    if checkpoint in KNOWN_CHECKPOINTS:
        return KNOWN_CHECKPOINTS[checkpoint].hidden_size
    config = os.path.join(checkpoint, "config.json")
    try:
        with open(config, encoding="utf-8") as handle:
            width = json.load(handle).get("hidden_size")
    except (OSError, ValueError, AttributeError):
        return None  # not a local checkpoint, or one the loader will reject with its own message
    return width if isinstance(width, int) and not isinstance(width, bool) else None


def _default(cls: type, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _torch_name(value: object, lower: bool = False) -> str | None:
    """The name of a device or dtype given as a string or as a torch object (read by its text: this module does
    not import torch). A torch int8 dtype has no name here: only the string "int8" asks for the int8 mode."""
    if isinstance(value, str):
        return value.lower() if lower else value
    if type(value).__module__ != "torch":
        return None
    text = str(value).removeprefix("torch.")
    return None if text in QUANTIZED_DTYPE_NAMES else text


# Keyword arguments of the constructors, for type checkers (PEP 692), in pieces that adapters with their own
# types for a few settings (Haystack's ComponentDevice and Secret) compose too. Kept equal to the fields
# above by tests/test_settings.py: a setting is added there and here, nowhere else.
class AnywhereOptions(TypedDict, total=False):
    instruction: str | None
    max_length: int
    batch_size: int | None
    progress_bar: bool
    revision: str | None
    local_files_only: bool


class ComputeOptions(TypedDict, total=False):
    dtype: str | None
    batch_tokens: int | None
    allow_pickle: bool


class ServedOptions(TypedDict, total=False):
    tokenizer: str | None
    timeout: float
    retries: int
    concurrency: int
    max_reply_bytes: int


class VectorOptions(TypedDict, total=False):
    dim: int | None
    symmetric: bool | None


class _Token(TypedDict, total=False):
    token: str | bool | None


class _Device(TypedDict, total=False):
    device: str | None


class _ApiKey(TypedDict, total=False):
    api_key: str | None


class EmbedderOptions(AnywhereOptions, _Token, _Device, ComputeOptions, VectorOptions, total=False):
    """`Embedder(model, **options)`."""


class RerankerOptions(AnywhereOptions, _Token, _Device, ComputeOptions, total=False):
    """`Reranker(model, **options)`."""


class RemoteEmbedderOptions(AnywhereOptions, _Token, ServedOptions, _ApiKey, VectorOptions, total=False):
    """`RemoteEmbedder(base_url, model, **options)`."""


class RemoteRerankerOptions(AnywhereOptions, _Token, ServedOptions, _ApiKey, total=False):
    """`RemoteReranker(base_url, model, **options)`."""
