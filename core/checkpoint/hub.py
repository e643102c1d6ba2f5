"""Reaching the Hugging Face hub within a bounded time, or saying in one line how to do without it.

transformers asks the hub about every file of a checkpoint, with retries, before it falls back
to the local cache: a hub that cannot be resolved costs half a minute, and one that accepts the
connection but never answers hangs far longer. One request with a deadline decides up front.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import huggingface_hub
from huggingface_hub import constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..errors import ModelLoadError

TIMEOUT_VARIABLE = "HF_HUB_ETAG_TIMEOUT"  # huggingface_hub's own setting for metadata requests


def local_folder_hint(kind: str) -> str:
    """The advice to load a local folder instead, in Python's words (the command line says it with its own
    options: cli/hints.py)."""
    return f"Pass a local {kind} checkpoint directory as model= instead"


def timeout_seconds() -> float:
    """How long the hub may take to answer: $HF_HUB_ETAG_TIMEOUT, else huggingface_hub's default (10 s)."""
    try:
        return max(1.0, float(os.environ.get(TIMEOUT_VARIABLE) or constants.DEFAULT_ETAG_TIMEOUT))
    except ValueError:
        return float(constants.DEFAULT_ETAG_TIMEOUT)


def offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it, also when set after it was imported."""
    flags = (os.environ.get(name, "").upper() for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return constants.is_offline_mode() or any(flag in {"1", "ON", "YES", "TRUE"} for flag in flags)


def resolve_access(
    kind: str, source: str, revision: str | None, token: str | bool | None, local_files_only: bool
) -> dict[str, Any]:
    """`from_pretrained` keywords for `source`: the cache alone when asked, or when the hub is out of
    reach and the cache has the checkpoint; a ModelLoadError when neither can serve it."""
    access: dict[str, Any] = {"revision": revision, "token": token}
    if os.path.isdir(source):
        return access
    if local_files_only or offline():
        if not in_cache(source, revision):
            why = (
                "local_files_only=True" if local_files_only else "offline mode: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE"
            )
            raise _unavailable(kind, source, revision, why, "download it where the hub is reachable")
        return {**access, "local_files_only": True}
    timeout = timeout_seconds()
    failure = _ask_hub(source, revision, token, timeout)
    if failure is None:
        return access
    if isinstance(failure, EntryNotFoundError) or (isinstance(failure, HfHubHTTPError) and _status(failure) < 500):
        raise _refused(source, revision, failure) from None
    if in_cache(source, revision):
        return {**access, "local_files_only": True}
    raise _unavailable(
        kind,
        source,
        revision,
        f"could not reach the model hub ({constants.ENDPOINT}) within {timeout:g} s: {_reason(failure)}",
        f"set HF_ENDPOINT to a reachable mirror, or raise {TIMEOUT_VARIABLE}",
    ) from None


def _unavailable(kind: str, source: str, revision: str | None, why: str, other_fix: str) -> ModelLoadError:
    """One line: the checkpoint can be had neither from the hub nor from the cache, and what to do."""
    where = f" at revision {revision!r}" if revision else ""
    return ModelLoadError(
        f"{kind} model {source!r}{where} is not in the local cache ({constants.HF_HUB_CACHE}) and cannot be "
        f"fetched ({why}). {local_folder_hint(kind)}, or {other_fix}"
    )


def in_cache(source: str, revision: str | None) -> bool:
    """Whether the local hub cache holds this checkpoint's config (and so, normally, the rest)."""
    found = huggingface_hub.try_to_load_from_cache(source, "config.json", revision=revision)
    return isinstance(found, str)


def _ask_hub(source: str, revision: str | None, token: str | bool | None, timeout: float) -> BaseException | None:
    """None when the hub answers for `source`'s config.json in time, else what went wrong.

    A worker thread with a deadline, because name resolution is outside the HTTP client's timeout.
    """
    outcome: list[BaseException | None] = []

    def ask() -> None:
        try:
            url = huggingface_hub.hf_hub_url(source, "config.json", revision=revision)
            huggingface_hub.get_hf_file_metadata(url, token=token, timeout=timeout)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the caller, which decides
            outcome.append(error)

    worker = threading.Thread(target=ask, name="qwen3-rag-hub-check", daemon=True)
    worker.start()
    worker.join(2 * timeout + 1)  # connect and read each get `timeout`
    return outcome[0] if outcome else TimeoutError(f"no answer in {timeout:g} s")


def _status(error: BaseException) -> int:
    status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else 0


def _refused(source: str, revision: str | None, error: BaseException) -> ModelLoadError:
    if isinstance(error, RevisionNotFoundError):
        return ModelLoadError(f"{source!r} has no revision {revision!r} on the hub")
    if isinstance(error, GatedRepoError):
        return ModelLoadError(
            f"{source!r} is gated on the hub: accept its terms there, then pass token= "
            "(or set HF_TOKEN) with an access token of that account"
        )
    if isinstance(error, RepositoryNotFoundError):
        return ModelLoadError(
            f"{source!r} is not a model on the hub, or is private: check the id, or pass token= "
            "(or set HF_TOKEN) with an access token that can read it"
        )
    if isinstance(error, EntryNotFoundError):
        return ModelLoadError(f"{source!r} has no config.json on the hub: it is not a transformers checkpoint")
    return ModelLoadError(f"the model hub ({constants.ENDPOINT}) refused {source!r} with HTTP {_status(error)}")


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
