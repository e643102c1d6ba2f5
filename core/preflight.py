"""Checking Embedder/Reranker settings without loading any weights.

For callers that construct the models somewhere else later (a cluster's workers): a bad setting
fails here, once, with the same error the constructor would raise.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping
from typing import Any

import torch

from .checkpoint.tokenizer import normalise_source
from .embedder import Embedder
from .errors import InvalidArgumentError
from .kernels.runtime import parse_device, resolve_dtype
from .model_factory import model_class_and_arguments
from .presets import resolve_task
from .registry import KNOWN_CHECKPOINTS
from .remote.http import check_base_url, check_timeout
from .reranker import Reranker
from .validation import check_bool, check_dim, check_positive_int


def check_embedder_settings(settings: Mapping[str, Any]) -> None:
    """Raise the error `Embedder(**settings)` would raise for a bad setting, without loading the model.

    With `base_url`, the settings of a `RemoteEmbedder` are checked, without contacting the server.
    """
    if settings.get("base_url") is not None:
        return _check_remote(Embedder, settings)
    arguments = _bind(Embedder, settings)
    _check_common(arguments)
    check_positive_int(arguments["max_length"], "max_length", minimum=2)
    if arguments["symmetric"] is not None:
        check_bool(arguments["symmetric"], "symmetric")
    hidden_size = _hidden_size(arguments["model"])
    if hidden_size is not None:
        check_dim(arguments["dim"], hidden_size, arguments["model"])
    elif arguments["dim"] is not None:
        check_dim(arguments["dim"], arguments["dim"], arguments["model"])  # at least a valid integer >= 32


def check_reranker_settings(settings: Mapping[str, Any]) -> None:
    """Raise the error `Reranker(**settings)` would raise for a bad setting, without loading the model."""
    if settings.get("base_url") is not None:
        return _check_remote(Reranker, settings)
    arguments = _bind(Reranker, settings)
    _check_common(arguments)
    check_positive_int(arguments["max_length"], "max_length")


def _check_remote(core_class: type, settings: Mapping[str, Any]) -> None:
    remote_class, arguments = model_class_and_arguments(core_class, settings)
    bound = _bind(remote_class, arguments)
    check_base_url(bound["base_url"])
    check_timeout(bound["timeout"])
    resolve_task(bound["instruction"])
    for name in ("max_batch", "concurrency", "max_length"):
        check_positive_int(bound[name], name)
    if bound.get("dim") is not None:
        check_dim(bound["dim"], bound["dim"], str(bound["model"]))  # at least a valid integer >= 32


def _bind(model_class: type, settings: Mapping[str, Any]) -> dict[str, Any]:
    try:
        bound = inspect.signature(model_class).bind(**settings)
    except TypeError as error:
        raise InvalidArgumentError(f"{model_class.__name__} settings: {error}") from None
    bound.apply_defaults()
    return bound.arguments


def _check_common(arguments: dict[str, Any]) -> None:
    normalise_source(arguments["model"])
    if arguments["device"] is not None:
        parse_device(arguments["device"])
    resolve_dtype(arguments["dtype"], torch.device("cpu"))
    resolve_task(arguments["instruction"])
    for name in ("batch_tokens", "batch_size"):
        if arguments[name] is not None:
            check_positive_int(arguments[name], name)


def _hidden_size(model: str) -> int | None:
    """The width, when it is known without a download: a published checkpoint or a local config."""
    if model in KNOWN_CHECKPOINTS:
        return KNOWN_CHECKPOINTS[model].hidden_size
    config = os.path.join(model, "config.json")
    if os.path.isfile(config):
        with open(config, encoding="utf-8") as handle:
            return json.load(handle).get("hidden_size")
    return None
