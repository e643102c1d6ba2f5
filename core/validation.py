"""Checks on user arguments, each raising an error that names the argument and what is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from .display import escaped
from .errors import InvalidArgumentError, InvalidInputError
from .registry import MIN_EMBEDDING_DIM


def check_items(items: object, item_type: type, name: str, noun: str | None = None) -> list[Any]:
    """`items` as a list when it is a sequence of `item_type`, or raise naming the first bad item."""
    noun = noun or item_type.__name__
    if isinstance(items, str | bytes):
        hint = "; wrap it in a list: [text]" if item_type is str else ""
        raise InvalidInputError(f"{name} must be a list of {noun}s, got a single {type(items).__name__}{hint}")
    if not isinstance(items, Sequence):
        raise InvalidInputError(f"{name} must be a list of {noun}s, got {type(items).__name__}")
    for position, item in enumerate(items):
        if not isinstance(item, item_type):
            raise InvalidInputError(
                f"{name}[{position}] must be a {noun}, got {type(item).__name__} ({item!r:.40}); "
                "convert it or filter it out first"
            )
    return list(items)


def check_texts(texts: object, name: str = "texts") -> list[str]:
    """Return `texts` as a list of strings, or raise naming the first bad item."""
    checked = check_items(texts, str, name, noun="string")
    for position, text in enumerate(checked):
        _check_unicode(text, f"{name}[{position}]")
    return checked


def check_text(text: object, name: str) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(f"{name} must be a string, got {type(text).__name__}")
    return _check_unicode(text, name)


def is_unicode(text: str) -> bool:
    """False when `text` holds lone surrogates: from "\\ud800" in JSON, or from bytes that are not
    UTF-8 decoded with surrogateescape (as the OS gives such file names)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_unicode(text: str, name: str) -> str:
    if not is_unicode(text):
        position = next(i for i, ch in enumerate(text) if "\ud800" <= ch <= "\udfff")
        raise InvalidInputError(
            f"{name} is not valid Unicode: it holds a lone surrogate ({text[position]!a}) at position "
            f"{position}; remove it, or decode the source with errors='replace'"
        )
    return text


def check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name}={value!r} must be True or False")
    return value


def check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{name}={value!r} must be an integer >= {minimum}")
    return value


def check_dim(dim: int | None, hidden_size: int, model_name: str) -> int:
    """The output dimension: `dim` when it is a valid Matryoshka size, else the full hidden size."""
    if dim is None:
        return hidden_size
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise InvalidArgumentError(f"dim must be an integer or None, got {type(dim).__name__}")
    if not MIN_EMBEDDING_DIM <= dim <= hidden_size:
        raise InvalidArgumentError(
            f"dim={dim} is outside {MIN_EMBEDDING_DIM}..{hidden_size} for {model_name}; "
            f"pick an integer in that range, or None for the full {hidden_size}"
        )
    return dim


def check_base_url(base_url: object) -> str:
    """An http(s) URL without query or fragment; a trailing '/v1' is dropped (paths add it)."""
    if not isinstance(base_url, str):
        raise InvalidArgumentError(
            f"base_url must be a string like 'http://localhost:8000', got {type(base_url).__name__}"
        )
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidArgumentError(
            f"base_url={escaped(base_url)!r} must be an http:// or https:// server address "
            "like 'http://localhost:8000' (no query or fragment)"
        )
    path = parts.path.rstrip("/")
    path = path[: -len("/v1")] if path.endswith("/v1") else path
    return f"{parts.scheme}://{parts.netloc}{path}"


def check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 86400:
        raise InvalidArgumentError(f"timeout={timeout!r} must be a number of seconds in (0, 86400]")
    return float(timeout)
