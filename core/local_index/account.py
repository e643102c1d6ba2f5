"""This account's private key: what seals an index (seal.py) and the models it was built with (own_models.py).

Created on first use in `~/.config/qwen3-rag/index.key` (or `$QWEN3_RAG_KEY_FILE`), mode 0600, and
refused when it is not a private file of this account: whoever can read it can make an index pass as ours.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from ..display import quoted
from ..errors import LocalIndexError
from .folder import read_plain

KEY_VARIABLE = "QWEN3_RAG_KEY_FILE"  # where the account's key lives, when not the default
KEY_BYTES = 32


def key_path() -> Path:
    configured = os.environ.get(KEY_VARIABLE)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "qwen3-rag" / "index.key"


def account_key() -> bytes:
    """This account's key: read from its private file, or created there (mode 0600) on first use.

    Written whole under a temporary name and then linked into place, so two processes starting at
    once never read a half-written key: the second link fails and that process reads the first's.
    """
    path = key_path()
    if not os.path.lexists(path):
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as key_file:
                key_file.write(secrets.token_bytes(KEY_BYTES))
                key_file.flush()
                os.fsync(key_file.fileno())
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: its key is the key
        except OSError as error:
            raise LocalIndexError(
                f"cannot create the index key {quoted(path)} ({error.strerror}); set "
                f"${KEY_VARIABLE} to a file path this account can write"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(draft)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        found = read_plain(path, KEY_BYTES)
    except OSError as error:
        raise LocalIndexError(f"cannot read the index key {quoted(path)} ({error.strerror})") from None
    if found is None:
        raise LocalIndexError(f"cannot read the index key {quoted(path)} (it was removed)")
    key, info = found
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise LocalIndexError(
            f"the index key {quoted(path)} is not a private file of this account; "
            f"make it one (chmod 600 {quoted(path)}) or remove it to make a new key"
        )
    if len(key) != KEY_BYTES:
        raise LocalIndexError(
            f"the index key {quoted(path)} is not {KEY_BYTES} bytes; remove it to make a new key "
            "(indexes sealed with the old one must then be trusted again)"
        )
    return key
