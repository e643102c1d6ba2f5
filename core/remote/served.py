"""What both remote classes do before their first request: find the served model and its tokenizer.

The client tokenizes with the checkpoint's own tokenizer and sends token ids, so the server sees
exactly the ids the in-process core would run: the same prompt layout, the same truncation, and
no way for user text to become a control token (a server's own tokenizer would parse
`<|im_end|>` in a document as the real token).
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from ..checkpoint.tokenizer import Kind, normalise_source, read_tokenizer
from ..errors import InvalidArgumentError, ModelLoadError, RemoteServerError
from ..model_base import ModelBase
from ..settings import ModelSettings
from .http import Server
from .served_backend import ServedBackend, ServedModel

Served = TypeVar("Served", bound=ServedBackend)


class RemoteModel(ModelBase):
    """What `RemoteEmbedder` and `RemoteReranker` share: made from settings with `base_url`; the backend is the
    server and the model it serves."""

    served = True

    @property
    def server(self) -> Server:
        return self.backend.server

    @property
    def model_name(self) -> str:
        """The served model id."""
        return self.backend.name

    @property
    def max_batch(self) -> int:
        """Sequences per request."""
        return self.backend.max_batch


def connect_backend(backend_class: type[Served], settings: ModelSettings) -> Served:
    """A `backend_class` on the server and model `settings` name, with their request size."""
    server, served = open_served(settings)
    return backend_class(server, served, settings.batch_size or settings.served_batch_size, settings.revision)


def open_served(settings: ModelSettings) -> tuple[Server, ServedModel]:
    """The server `settings.base_url` names, and its model (checked as `connect` checks it)."""
    if settings.base_url is None:
        raise InvalidArgumentError(f"a served {settings.kind} model needs base_url=")
    server = Server(
        settings.base_url,
        api_key=settings.api_key,
        timeout=settings.timeout,
        retries=settings.retries,
        concurrency=settings.concurrency,
        max_reply_bytes=settings.max_reply_bytes,
    )
    return server, connect(server, settings.kind, settings.model, settings.tokenizer, **settings.hub_access())


def connect(
    server: Server,
    kind: Kind,
    model: str | None,
    tokenizer: str | None,
    *,
    revision: str | None,
    token: str | bool | None,
    local_files_only: bool,
) -> ServedModel:
    """The served model named `model` (or the only one), with the tokenizer its checkpoint uses."""
    cards = _model_cards(server)
    names = [card["id"] for card in cards]
    if model is None:
        if len(cards) != 1:
            raise RemoteServerError(
                f"{server.base_url} serves {len(cards)} models ({', '.join(names) or 'none'}); "
                "pass model= to choose one"
            )
        card = cards[0]
    else:
        matching = [card for card in cards if card["id"] == model]
        if not matching:
            raise RemoteServerError(f"{server.base_url} does not serve {model!r}; it serves: {', '.join(names)}")
        card = matching[0]
    source = tokenizer if tokenizer is not None else _tokenizer_source(card)
    try:
        loaded, config = read_tokenizer(kind, source, revision=revision, token=token, local_files_only=local_files_only)
    except ModelLoadError as error:
        if tokenizer is not None:
            raise
        raise ModelLoadError(
            f"{error}. The server names its checkpoint {source!r}; pass tokenizer= with the hub "
            "id or a local copy of that checkpoint (its tokenizer and config files suffice)"
        ) from None
    limit = card.get("max_model_len")
    context_length = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 1 else None
    return ServedModel(card["id"], loaded, config, context_length, normalise_source(source))


def _model_cards(server: Server) -> list[dict[str, Any]]:
    answer = server.get("/v1/models")
    cards = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(cards, list) or not all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in cards):
        raise RemoteServerError(f"{server.base_url}/v1/models did not list models as an OpenAI-style server does")
    return cards


def _tokenizer_source(card: dict[str, Any]) -> str:
    """vLLM puts the checkpoint it loaded (hub id or path) in `root`; other servers may only have `id`."""
    root = card.get("root")
    if isinstance(root, str) and root and (os.path.isdir(root) or not os.path.isabs(root)):
        return root
    return card["id"]
