"""Settings to a model object: `Embedder`/`Reranker` in this process, or `RemoteEmbedder`/`RemoteReranker`
when `base_url` names a server. One rule for the adapters, Ray, preflight and the index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .embedder import Embedder
from .errors import InvalidArgumentError
from .remote.embedder import RemoteEmbedder
from .remote.reranker import RemoteReranker
from .reranker import Reranker

# Settings of a model running in this process, with their defaults; with base_url= the server decides them.
LOCAL_ONLY = {"device": None, "dtype": None, "batch_tokens": None, "allow_pickle": False}
REMOTE_TWIN: dict[type, type] = {Embedder: RemoteEmbedder, Reranker: RemoteReranker}


def model_class_and_arguments(core_class: type, settings: Mapping[str, Any]) -> tuple[type, dict[str, Any]]:
    """`core_class` and its keyword arguments, or its remote twin's when `base_url` is set.

    None values are left out (the constructors' defaults apply). With `base_url`, `batch_size`
    becomes `max_batch`, and a local-only setting other than its default is refused.
    """
    given = {name: value for name, value in settings.items() if value is not None}
    base_url = given.pop("base_url", None)
    if base_url is None:
        given.pop("api_key", None)
        return core_class, given
    local = sorted(name for name, default in LOCAL_ONLY.items() if given.pop(name, default) != default)
    if local:
        raise InvalidArgumentError(
            f"{', '.join(f'{name}=' for name in local)} set(s) how a model runs here; "
            "with base_url= the server runs it, so leave them out"
        )
    if "batch_size" in given:
        given["max_batch"] = given.pop("batch_size")
    return REMOTE_TWIN[core_class], {"base_url": base_url, **given}


def make_model(core_class: type, settings: Mapping[str, Any]) -> Any:
    """An `Embedder`/`Reranker` from `settings`, or a `RemoteEmbedder`/`RemoteReranker` when `base_url` is set."""
    model_class, arguments = model_class_and_arguments(core_class, settings)
    return model_class(**arguments)
