"""The models this account built an index with: what `index` and `search` run when the user names none.

An index's settings record what its embedding model *is* (an identity, see checkpoint/identity.py),
never where to load it from: settings travel with the index, and after `--trust` they are a
stranger's. Which model runs is the user's choice: a flag, then an environment variable, then, for
an index this account built itself, the models it named then, kept here beside the tables under an
HMAC of this account's key. A copied, planted or `--trust`ed index has no such record with this
key, so its models must be named; a recorded local folder is used only while its fingerprint is the
one it had, and a hub id only as this account named it. A served model's card is never recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ..checkpoint.identity import checkpoint_identity
from ..checkpoint.tokenizer import normalise_source
from ..errors import ModelLoadError
from .account import account_key
from .folder import MODELS, MODELS_DRAFT, read_plain

MAX_BYTES = 1 << 16


@dataclass(frozen=True)
class ModelChoice:
    """A model as the user named it (hub id or local folder), and what it was then."""

    source: str
    revision: str | None
    identity: str

    @classmethod
    def named(cls, source: str, revision: str | None) -> ModelChoice:
        source = normalise_source(source)
        return cls(source, revision, checkpoint_identity(source))

    def unchanged(self) -> bool:
        """Whether the model at `source` is still the one recorded (a local folder's fingerprint)."""
        try:
            return checkpoint_identity(normalise_source(self.source)) == self.identity
        except (ModelLoadError, OSError):  # gone, unreadable or no longer a folder: not the one recorded
            return False


def save_choices(directory: Path, choices: Mapping[str, ModelChoice]) -> None:
    """Record `choices` (kind -> model) for the index at `directory`; the caller holds its write lock."""
    body = _canonical({kind: asdict(choice) for kind, choice in choices.items()})
    document = json.dumps({"models": json.loads(body), "mac": _mac(body)}).encode()
    folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(MODELS_DRAFT, flags, 0o600, dir_fd=folder), "wb") as draft:
            draft.write(document)
        os.replace(MODELS_DRAFT, MODELS, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        os.close(folder)


def remember_choices(directory: Path, choices: Mapping[str, ModelChoice]) -> None:
    """Add `choices` to those recorded for the index at `directory` (a run that named only some models
    keeps the others: an index extended through a server keeps the local embedder it was built with)."""
    save_choices(directory, {**load_choices(directory), **choices})


def load_choices(directory: Path) -> dict[str, ModelChoice]:
    """The models this account recorded for the index at `directory`; none when there is no record made
    with this account's key (another account's index, a planted or a trusted one)."""
    try:
        found = read_plain(directory / MODELS, MAX_BYTES)
    except OSError:
        return {}
    raw = found[0] if found is not None else b""
    try:
        document = json.loads(raw)
        body = _canonical(document["models"])
        if not hmac.compare_digest(_mac(body), document["mac"]):
            return {}
        return {kind: ModelChoice(**fields) for kind, fields in document["models"].items()}
    except (ValueError, KeyError, TypeError, RecursionError):
        return {}


def _mac(body: bytes) -> str:
    return hmac.new(account_key(), b"qwen3-rag.models\0" + body, hashlib.sha256).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
