"""What the three components share: a lazily loaded core instance, the device, serialisation, text."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypedDict

from haystack import Document, default_from_dict, default_to_dict
from haystack.utils import ComponentDevice, Secret, deserialize_secrets_inplace

from ...errors import InvalidArgumentError
from ...model_factory import make_model
from ...settings import (
    AnywhereOptions,
    ComputeOptions,
    ModelSettings,
    ServedOptions,
    VectorOptions,
    refuse_unknown,
)
from ...validation import check_items
from .._shared import Core

# The hub token as Haystack's own Hugging Face components take it: from the environment, if set.
HF_TOKEN = Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False)
SECRETS = ("token", "api_key")


class HaystackAccess(TypedDict, total=False):
    """The settings a component takes in Haystack's own types (and `base_url`, which the classes take first)."""

    device: ComponentDevice | None
    token: Secret | None
    api_key: Secret | None
    base_url: str | None


class EmbedderComponentOptions(
    AnywhereOptions, ComputeOptions, ServedOptions, VectorOptions, HaystackAccess, total=False
):
    """The embedders' settings keywords: every `EmbedderSettings` field."""


class RankerComponentOptions(AnywhereOptions, ComputeOptions, ServedOptions, HaystackAccess, total=False):
    """The ranker's settings keywords: every `RerankerSettings` field."""


class CoreComponent(Generic[Core]):
    """Base of the components: init parameters kept as given, the core model loaded on `warm_up`.

    A component's own parameters (precision, top_k, ...) come first; the model's settings are the keywords of
    `options`, checked at init as the settings object they make (secrets are resolved only at load). The
    core's cache shares weights, so a text and a document embedder on the same model (and every pipeline in
    the process) use one loaded copy.
    """

    settings_class: ClassVar[type[ModelSettings]]
    options: ClassVar[type]  # the TypedDict of its settings keywords
    defaults: ClassVar[dict[str, Any]] = {}  # where this component's defaults differ from the settings'

    def __init__(self, own: dict[str, Any], settings: Mapping[str, Any]):
        taken = self.options.__annotations__
        refuse_unknown(type(self).__name__, settings, [*own, *taken])
        defaults = {name: self.settings_class.__dataclass_fields__[name].default for name in taken}
        values = {**defaults, "token": HF_TOKEN, **self.defaults, **settings}
        if values["device"] is not None and not isinstance(values["device"], ComponentDevice):
            raise InvalidArgumentError(
                f"device must be a haystack ComponentDevice (e.g. ComponentDevice.from_str('cuda:0')) or None, "
                f"got {type(values['device']).__name__}"
            )
        for name in SECRETS:
            if values[name] is not None and not isinstance(values[name], Secret):
                raise InvalidArgumentError(
                    f"{name} must be a haystack Secret (Secret.from_env_var('NAME') or Secret.from_token(...)) or "
                    f"None, got {type(values[name]).__name__}"
                )
        self._parameter_names = (*own, *values)
        for name, value in {**own, **values}.items():
            setattr(self, name, value)
        self._core: Core | None = None
        self._settings(resolve_secrets=False)  # a bad setting fails here, as the core constructor would fail

    def warm_up(self) -> None:
        """Load the model once; later calls (Haystack makes one per pipeline run) do nothing."""
        self._loaded()

    async def warm_up_async(self) -> None:
        await asyncio.to_thread(self.warm_up)

    async def loaded_async(self) -> Core:
        """The core instance for `run_async`; a first load runs in a worker thread, off the event loop."""
        return self._core if self._core is not None else await asyncio.to_thread(self._loaded)

    @property
    def core(self) -> Core:
        """The core instance, loaded on first use if the pipeline has not warmed the component up."""
        return self._loaded()

    def _loaded(self) -> Core:
        if self._core is None:
            self._core = make_model(self._settings(resolve_secrets=True))
        return self._core

    def _settings(self, resolve_secrets: bool) -> ModelSettings:
        """The settings object of the model: the settings parameters, the device as torch names it, and the
        secrets' values (left out until the model loads: an env var may be set only by then)."""
        names = set(self.settings_class.placement()) & set(self._parameter_names)
        values = {name: getattr(self, name) for name in names}
        values["device"] = _torch_device(values["device"])
        for name in SECRETS:
            secret = values[name]
            values[name] = secret.resolve_value() if resolve_secrets and secret is not None else None
        return self.settings_class.from_mapping(values)

    def to_dict(self) -> dict[str, Any]:
        """Init parameters as given; secrets as their reference (an env-var name), never their value."""
        parameters = {name: getattr(self, name) for name in self._parameter_names}
        for name in SECRETS:
            if parameters.get(name) is not None:
                parameters[name] = parameters[name].to_dict()  # a secret given by value refuses, as Haystack's do
        return default_to_dict(self, **parameters)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoreComponent:
        """The component `to_dict` described; `data` itself is left as it was (Haystack's own do the same)."""
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
        deserialize_secrets_inplace(data["init_parameters"], keys=list(SECRETS))
        return default_from_dict(cls, data)


def _torch_device(device: ComponentDevice | None) -> str | None:
    if device is None:
        return None  # the core picks CUDA, then MPS, then CPU
    if device.has_multiple_devices:
        raise InvalidArgumentError("device must be a single device; a model is not split across devices here")
    return device.to_torch_str()


def document_texts(documents: object, meta_fields: list[str], separator: str) -> tuple[list[Document], list[str]]:
    """The documents, checked, and the text the model reads for each: chosen meta values, then content.

    A Document without text (content None: a blob, a table) reads as its meta values and "", as in
    Haystack's own embedders (`doc.content or ""`): a pipeline of mixed Documents keeps running,
    and each one keeps its place and gets a vector or score.
    """
    documents = check_items(documents, Document, "documents")
    texts = []
    for document in documents:
        meta = [str(document.meta[key]) for key in meta_fields if document.meta.get(key) is not None]
        texts.append(separator.join([*meta, document.content or ""]))
    return documents, texts
