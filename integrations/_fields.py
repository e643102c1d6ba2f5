"""Core settings as pydantic fields, shared by the pydantic-based adapters (LangChain, LlamaIndex).

An adapter either loads a core instance from these fields or wraps one the caller passes in
(`embedder=` / `reranker=`); the core's cache shares weights between adapters either way.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import operator
import typing
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, field_validator, model_validator

from ..embedder import Embedder
from ..errors import InvalidArgumentError
from ..remote import RemoteEmbedder, RemoteReranker
from ..reranker import Reranker
from ..settings import EmbedderSettings, ModelSettings, RerankerSettings
from ..validation import check_positive_int
from ._shared import EMBEDDER_SETTINGS, RERANKER_SETTINGS, Cut, check_threshold, core_instance

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


class CoreFields(BaseModel):
    """What both pydantic adapters' settings share: strict names, and settings fixed once the model is made."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    settings_class: ClassVar[type[ModelSettings]]
    instance_name: ClassVar[str]  # the field that takes a core instance instead of the settings
    instance_classes: ClassVar[tuple[type, ...]]
    _core: Any = PrivateAttr()

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
        given = data.get(cls.instance_name)
        if given is not None and not isinstance(given, cls.instance_classes):
            allowed = " or ".join(f"qwen3_rag.{c.__name__}" for c in cls.instance_classes)
            raise ValueError(f"{cls.instance_name}= must be a {allowed} instance, got {type(given).__name__}")
        return data

    @model_validator(mode="after")
    def _connect(self) -> CoreFields:
        """The core instance: the one passed as `instance_name`, else one made from the settings fields."""
        settings = {name: getattr(self, name) for name in self.settings_class.placement()}
        given = getattr(self, self.instance_name)
        self._core = core_instance(self.settings_class, given, settings, self.model_fields_set, self.instance_name)
        return self

    @property
    def core(self) -> Any:
        """The core `Embedder`/`Reranker` (or served twin) doing the work, shared with any adapter on the same
        settings."""
        return self._core

    def __setattr__(self, name: str, value: Any) -> None:
        if name in FIXED_AFTER_CONSTRUCTION and name in type(self).model_fields:
            raise AttributeError(
                f"{name} is fixed once {type(self).__name__} has loaded its model; "
                f"create a new {type(self).__name__}({name}=...) instead"
            )
        super().__setattr__(name, value)


def settings_fields(settings_class: type[ModelSettings]) -> dict[str, Any]:
    """Pydantic fields for every setting of `settings_class`: its type, default and description, as the
    settings object defines them (secrets kept out of repr and of `model_dump`)."""
    hints = typing.get_type_hints(settings_class)
    fields: dict[str, Any] = {}
    for setting in dataclasses.fields(settings_class):
        secret = setting.metadata["secret"]
        fields[setting.name] = (
            hints[setting.name],
            Field(default=setting.default, description=setting.metadata["help"], repr=not secret, exclude=secret),
        )
    return fields


def core_fields(settings_class: type[ModelSettings], instance: str, classes: tuple[type, ...]) -> type[CoreFields]:
    """A pydantic base with every setting of `settings_class` as a field, and the field `instance` that takes
    an existing core object (one of `classes`) in their place."""
    allowed = " or ".join(f"qwen3_rag.{c.__name__}" for c in classes)
    fields = settings_fields(settings_class)
    fields[instance] = (
        functools.reduce(operator.or_, classes) | None,
        Field(default=None, exclude=True, description=f"An existing {allowed} to use instead of the settings."),
    )
    base: type[CoreFields] = create_model(f"{settings_class.__name__}Fields", __base__=CoreFields, **fields)
    base.settings_class, base.instance_name, base.instance_classes = settings_class, instance, classes
    return base


class EmbedderFields(core_fields(EmbedderSettings, "embedder", (Embedder, RemoteEmbedder))):  # type: ignore[misc]
    """The settings of a `qwen3_rag.Embedder` (or, with base_url, a `RemoteEmbedder`), or the instance itself."""

    def cache_namespace(self, side: Literal["query", "document"]) -> str:
        """A cache namespace that changes with everything a vector depends on: checkpoint, revision,
        `dim`, the instruction on that side, and the side itself."""
        if side not in ("query", "document"):
            raise InvalidArgumentError(f"side={side!r} must be 'query' or 'document'")
        core = self.core
        instruction = core.instruction if side == "query" or core.symmetric else ""
        facts = json.dumps([core.name, core.revision, core.dim, instruction, side])
        return f"qwen3-rag-{side}-{hashlib.sha256(facts.encode()).hexdigest()[:16]}"


class RerankerFields(core_fields(RerankerSettings, "reranker", (Reranker, RemoteReranker))):  # type: ignore[misc]
    """The settings of a `qwen3_rag.Reranker` (or the instance itself), plus how many results to keep."""

    top_n: int = Field(default=3, description="How many of the best documents to return.")
    score_threshold: float | None = Field(
        default=None, description="Drop documents whose probability is below this (0..1); None keeps all."
    )

    @field_validator("top_n")
    @classmethod
    def _check_top_n(cls, value: int) -> int:
        return check_positive_int(value, "top_n")

    @field_validator("score_threshold")
    @classmethod
    def _check_threshold(cls, value: float | None) -> float | None:
        return check_threshold(value)

    def _cut(self) -> Cut:
        return Cut(self.top_n, self.score_threshold)
