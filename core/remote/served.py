"""What both remote classes do before their first request: find the served model and its tokenizer.

The client tokenizes with the checkpoint's own tokenizer and sends token ids, so the server sees
exactly the ids the in-process core would run: the same prompt layout, the same truncation, and
no way for user text to become a control token (a server's own tokenizer would parse
`<|im_end|>` in a document as the real token).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..checkpoint.tokenizer import Kind, normalise_source, read_tokenizer
from ..errors import InvalidArgumentError, ModelLoadError, RemoteServerError
from ..rebuild import RebuiltOnCopy
from ..settings import ModelSettings
from ..validation import check_positive_int
from .http import Server


@dataclass(frozen=True)
class ServedModel:
    name: str  # the id requests name
    tokenizer: Any
    config: Any
    max_length: int  # the smaller of the caller's max_length and the server's context length
    checkpoint: str  # what the server says it loaded (hub id or its directory), as Embedder.checkpoint names it


class ServedFacade(RebuiltOnCopy):
    """What `RemoteEmbedder` and `RemoteReranker` share: made from settings with `base_url`, the server and
    the model it serves."""

    served = True

    def _connect(self, settings: ModelSettings) -> ServedModel:
        """Connect to the server and its model; set what both classes expose about them."""
        self.max_batch = settings.batch_size or settings.served_batch_size
        self.progress_bar = settings.progress_bar
        self.server, served = open_served(settings)
        self.model_name, self.max_length, self.checkpoint = served.name, served.max_length, served.checkpoint
        return served

    @property
    def name(self) -> str:
        """The served model id."""
        return self.model_name


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
    served = connect(
        server, settings.kind, settings.model, settings.tokenizer, settings.max_length, **settings.hub_access()
    )
    return server, served


def connect(
    server: Server,
    kind: Kind,
    model: str | None,
    tokenizer: str | None,
    max_length: int,
    *,
    revision: str | None,
    token: str | bool | None,
    local_files_only: bool,
) -> ServedModel:
    """The served model named `model` (or the only one), with the tokenizer its checkpoint uses."""
    check_positive_int(max_length, "max_length", minimum=2)
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
    server_limit = card.get("max_model_len")
    limit = min(max_length, server_limit) if isinstance(server_limit, int) and server_limit > 1 else max_length
    return ServedModel(card["id"], loaded, config, limit, normalise_source(source))


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
