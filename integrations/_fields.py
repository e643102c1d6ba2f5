"""Core settings as pydantic fields, shared by the pydantic-based adapters (LangChain, LlamaIndex).

An adapter either loads a core instance from these fields or wraps one the caller passes in
(`embedder=` / `reranker=`); the core's cache shares weights between adapters either way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ..embedder import Embedder
from ..errors import InvalidArgumentError
from ..remote import RemoteEmbedder, RemoteReranker
from ..reranker import Reranker
from ..validation import check_positive_int
from ._shared import EMBEDDER_SETTINGS, RERANKER_SETTINGS, check_threshold, core_instance

_DEVICE = "'cpu', 'cuda', 'cuda:N', 'mps', or None for the best available."
_DTYPE = (
    "'float32', 'bfloat16', 'float16', 'int8' (CPU fast mode: int8 linear layers), or None (bf16 on CUDA, "
    "fp32 elsewhere)."
)
_INSTRUCTION = "A preset name (see qwen3_rag.PRESETS) or a free instruction sentence; None: web search."


# Names users bring from the frameworks' own local-model integrations that mean one of ours.
ALIASES = {"model_name": "model", "show_progress": "progress_bar", "truncate_dim": "dim"}
# Names that mean something we do differently: refused, with what to pass instead.
REFUSED = {
    "query_instruction": "pass only the task sentence as instruction=...; the 'Instruct: ...\\nQuery:' layout "
    "is added to queries for you",
    "text_instruction": "documents get no instruction; symmetric=True puts instruction= on both sides",
    "embed_instruction": "documents get no instruction; symmetric=True puts instruction= on both sides",
    "model_kwargs": "pass device=, dtype=, revision= and allow_pickle= directly",
    "encode_kwargs": "pass batch_size=, batch_tokens= and progress_bar= directly",
    "normalize": "vectors are always L2-normalised",
    "normalize_embeddings": "vectors are always L2-normalised",
    "top_k": "the number of documents kept is top_n=",
    "precision": "LangChain and LlamaIndex take float vectors; quantized vectors come from "
    "qwen3_rag.Embedder(...).embed_documents(texts, precision=...), the Haystack embedders' precision= "
    "or Ray's embed_dataset(precision=...)",
}
# Core settings fixed at construction: the loaded model was made from them.
FIXED_AFTER_CONSTRUCTION = frozenset(EMBEDDER_SETTINGS + RERANKER_SETTINGS + ("embedder", "reranker"))


def _check_instance(value: Any, name: str, classes: tuple[type, ...]) -> Any:
    if value is not None and not isinstance(value, classes):
        allowed = " or ".join(f"qwen3_rag.{c.__name__}" for c in classes)
        raise ValueError(f"{name}= must be a {allowed} instance, got {type(value).__name__}")
    return value


def _settings(model: BaseModel, names: tuple[str, ...]) -> dict[str, Any]:
    fields = type(model).model_fields
    return {name: getattr(model, name) for name in names if name in fields}


class CoreFields(BaseModel):
    """Settings both models take."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    model: str | None = Field(default=None, description="Hub id or local directory; None: the 0.6B checkpoint.")
    device: str | None = Field(default=None, description=_DEVICE)
    dtype: str | None = Field(default=None, description=_DTYPE)
    instruction: str | None = Field(default=None, description=_INSTRUCTION)
    max_length: int = Field(default=8192, description="Tokens per input; longer inputs are cut with a warning.")
    batch_tokens: int | None = Field(default=None, description="Padded tokens per forward pass; None: per device.")
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit) to pin.")
    progress_bar: bool = Field(default=False, description="Show a progress bar over batches.")
    allow_pickle: bool = Field(default=False, description="Accept pickle-only weights (can run code); trusted only.")
    token: str | None = Field(
        default=None,
        repr=False,
        exclude=True,
        description="Hub access token for private or gated checkpoints; None: HF_TOKEN.",
    )
    local_files_only: bool = Field(default=False, description="Read the hub cache only, never the network.")
    base_url: str | None = Field(
        default=None,
        description="A vLLM (OpenAI-style) server running the model, "
        "e.g. 'http://localhost:8000'; model= then names the served model (None: its only "
        "one). None runs the model in this process.",
    )
    api_key: str | None = Field(default=None, repr=False, exclude=True, description="Bearer token for base_url.")

    @model_validator(mode="before")
    @classmethod
    def _strict_arguments(cls, data: Any) -> Any:
        """Familiar names mapped to ours; names that mean something else, or nothing, refused by name."""
        if not isinstance(data, dict):
            return data
        data, fields = dict(data), cls.model_fields
        for alias, name in ALIASES.items():
            if alias not in data or name not in fields:
                continue
            if name in data and data[name] != data[alias]:
                raise ValueError(f"{alias}={data[alias]!r} and {name}={data[name]!r} disagree; pass only {name}=")
            data[name] = data[alias] if alias not in fields else data[alias]
            if alias not in fields:  # LlamaIndex has its own model_name, which then names the model used
                del data[alias]
        known = set(fields) | {field.alias for field in fields.values() if field.alias}
        refused = sorted(set(data) - known & REFUSED.keys())
        if refused:
            raise ValueError("; ".join(f"{cls.__name__} takes no {name}=: {REFUSED[name]}" for name in refused))
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{cls.__name__} got unknown argument(s) {', '.join(unknown)}; its settings are "
                f"{', '.join(sorted(name for name in fields if not name.startswith('_')))}"
            )
        return data

    def __setattr__(self, name: str, value: Any) -> None:
        if name in FIXED_AFTER_CONSTRUCTION and name in type(self).model_fields:
            raise AttributeError(
                f"{name} is fixed once {type(self).__name__} has loaded its model; "
                f"create a new {type(self).__name__}({name}=...) instead"
            )
        super().__setattr__(name, value)


class EmbedderFields(CoreFields):
    """The settings of a `qwen3_rag.Embedder`, or the instance itself."""

    dim: int | None = Field(default=None, description="Matryoshka output size (32..hidden size); None: full.")
    symmetric: bool | None = Field(
        default=None, description="Instruction on documents too (STS, clustering); None: as the preset says."
    )
    embedder: Embedder | RemoteEmbedder | None = Field(
        default=None,
        exclude=True,
        description="An existing qwen3_rag.Embedder (or RemoteEmbedder) to use instead of the settings.",
    )
    _embedder: Embedder | RemoteEmbedder = PrivateAttr()

    @field_validator("embedder", mode="before")
    @classmethod
    def _check_embedder(cls, value: Any) -> Any:
        return _check_instance(value, "embedder", (Embedder, RemoteEmbedder))

    @model_validator(mode="after")
    def _connect_embedder(self) -> EmbedderFields:
        settings = _settings(self, EMBEDDER_SETTINGS)
        self._embedder = core_instance(Embedder, self.embedder, settings, self.model_fields_set, "embedder")
        return self

    @property
    def core(self) -> Embedder | RemoteEmbedder:
        """The core `Embedder` doing the work (shared with any adapter on the same settings)."""
        return self._embedder

    def cache_namespace(self, side: Literal["query", "document"]) -> str:
        """A cache namespace that changes with everything a vector depends on: checkpoint, revision,
        `dim`, the instruction on that side, and the side itself."""
        if side not in ("query", "document"):
            raise InvalidArgumentError(f"side={side!r} must be 'query' or 'document'")
        core = self.core
        instruction = core.instruction if side == "query" or core.symmetric else ""
        facts = json.dumps([core.name, core.revision, core.dim, instruction, side])
        return f"qwen3-rag-{side}-{hashlib.sha256(facts.encode()).hexdigest()[:16]}"


class RerankerFields(CoreFields):
    """The settings of a `qwen3_rag.Reranker` (or the instance itself), plus how many results to keep."""

    top_n: int = Field(default=3, description="How many of the best documents to return.")
    score_threshold: float | None = Field(
        default=None, description="Drop documents whose probability is below this (0..1); None keeps all."
    )
    batch_size: int | None = Field(default=None, description="At most this many documents per forward pass.")
    reranker: Reranker | RemoteReranker | None = Field(
        default=None,
        exclude=True,
        description="An existing qwen3_rag.Reranker (or RemoteReranker) to use instead of the settings.",
    )
    _reranker: Reranker | RemoteReranker = PrivateAttr()

    @field_validator("reranker", mode="before")
    @classmethod
    def _check_reranker(cls, value: Any) -> Any:
        return _check_instance(value, "reranker", (Reranker, RemoteReranker))

    @field_validator("top_n")
    @classmethod
    def _check_top_n(cls, value: int) -> int:
        return check_positive_int(value, "top_n")

    @field_validator("score_threshold")
    @classmethod
    def _check_threshold(cls, value: float | None) -> float | None:
        return check_threshold(value)

    @model_validator(mode="after")
    def _connect_reranker(self) -> RerankerFields:
        settings = _settings(self, RERANKER_SETTINGS)
        self._reranker = core_instance(Reranker, self.reranker, settings, self.model_fields_set, "reranker")
        return self

    @property
    def core(self) -> Reranker | RemoteReranker:
        """The core `Reranker` doing the work (shared with any adapter on the same settings)."""
        return self._reranker
