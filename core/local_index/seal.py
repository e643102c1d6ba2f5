"""Proof that an index was written by this account, checked before LanceDB reads any of it.

LanceDB trusts its manifests: a manifest can point it at files outside the index (base paths,
data-file paths), at a pipe, or at a 17 MB list of fragments. So an index folder that arrived with
other files (a repository that ships its own `.qwen3-rag/`, an archive, a shared drive) must not
reach LanceDB at all. Each writer keeps a seal beside the tables: the SHA-256 of every manifest it
committed, with an HMAC under a key that only this account can read (created on first use, mode
0600). Before an index is opened, every manifest on disk must be in the seal with the same hash.

While a writer works (`writing` in the seal), manifests newer than the sealed ones are its own
commits in flight: readers accept them while the writer still holds the write lock. A writer that
was killed leaves them behind; the next writer removes them, which rolls each table back to its
last sealed version (consistent: a writer seals after both tables of a write committed), and its
own run redoes that work. Anything else is refused, with the fix.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..display import quoted
from ..errors import LocalIndexError
from .folder import LOCK, SEAL, SEAL_DRAFT, rebuild_hint

KEY_VARIABLE = "QWEN3_RAG_KEY_FILE"  # where the account's key lives, when not the default
KEY_BYTES = 32
MAX_MANIFEST_BYTES = 64 * 2**20  # LanceDB's manifests of a large index are a few MB
MAX_SEAL_BYTES = 16 * 2**20
MANIFEST_SUFFIX = ".manifest"
RETRIES, RETRY_SECONDS = 5, 0.05  # a reader racing a writer's seal looks again this often
SEAL_FORMAT = 1


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


def _read_plain(path: Path, limit: int) -> tuple[bytes, os.stat_result] | None:
    """At most `limit` + 1 bytes of the file at `path`, opened without following a link or blocking on a
    pipe, and its status; None when it does not exist. The caller checks that status."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as opened:
        info = os.fstat(opened.fileno())
        return (opened.read(limit + 1) if stat.S_ISREG(info.st_mode) else b""), info


def _read_key(path: Path) -> bytes:
    try:
        found = _read_plain(path, KEY_BYTES)
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
            "(indexes sealed with the old one then need --trust)"
        )
    return key


@dataclass(frozen=True, eq=True)
class Seal:
    tables: Mapping[str, list[str]]  # table folder -> sealed "manifest-name sha256" entries
    writing: bool

    def has(self, table: str, name: str, digest: str) -> bool:
        return f"{name} {digest}" in self.tables.get(table, ())

    def names(self, table: str) -> list[str]:
        return [entry.split(" ")[0] for entry in self.tables.get(table, ())]


def manifests(table_folder: Path) -> dict[str, str]:
    """Every manifest of one table, by name, with its SHA-256 (read without following links, size-capped).

    A manifest that a writer's clean-up removes between the listing and the read is left out.
    """
    versions = table_folder / "_versions"
    try:
        names = sorted(name for name in os.listdir(versions) if name.endswith(MANIFEST_SUFFIX))
    except FileNotFoundError:
        return {}
    found = {}
    for name in names:
        digest = _file_hash(versions / name)
        if digest is not None:
            found[name] = digest
    return found


# Digests of manifests already read, by what identifies the file's bytes: LanceDB writes each version
# to a new file, so a writer that seals after every commit hashes only the new ones (ctime changes
# with any write, and cannot be set back).
_digests: dict[tuple[int, int, int, int, int], str] = {}
MAX_CACHED_DIGESTS = 4096


def _file_hash(path: Path) -> str | None:
    try:
        info = os.stat(path, follow_symlinks=False)
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if stat.S_ISREG(info.st_mode) and key in _digests:
            return _digests[key]
        found = _read_plain(path, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise LocalIndexError(f"{quoted(path)} cannot be read as a manifest ({error.strerror})") from None
    if found is None:
        return None
    data, info = found
    if not stat.S_ISREG(info.st_mode) or len(data) > MAX_MANIFEST_BYTES:
        raise LocalIndexError(
            f"{quoted(path)} is not a manifest qwen3-rag wrote (not a plain file, or over "
            f"{MAX_MANIFEST_BYTES >> 20} MiB)"
        )
    if len(_digests) >= MAX_CACHED_DIGESTS:
        _digests.clear()
    digest = _digests[(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)] = hashlib.sha256(
        data
    ).hexdigest()
    return digest


def current(directory: Path, tables: tuple[str, ...]) -> dict[str, dict[str, str]]:
    return {table: manifests(directory / table) for table in tables}


def write_seal(directory: Path, *states: Mapping[str, Mapping[str, str]], writing: bool) -> None:
    """Seal the manifests of these states (table -> name -> SHA-256; several while a rebuild swaps
    tables) under this account's key. Only the writer, who holds the write lock, calls this."""
    tables: dict[str, list[str]] = {}
    for state in states:
        for table, found in state.items():
            tables.setdefault(table, []).extend(f"{name} {digest}" for name, digest in found.items())
    tables = {table: sorted(set(entries)) for table, entries in tables.items()}
    body = _canonical({"format": SEAL_FORMAT, "tables": tables, "writing": writing})
    mac = hmac.new(account_key(), body, hashlib.sha256).hexdigest()
    folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd = os.open(
            SEAL_DRAFT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder
        )
        with os.fdopen(fd, "wb") as draft:
            draft.write(json.dumps({"seal": json.loads(body), "mac": mac}).encode())
            draft.flush()
            os.fsync(draft.fileno())
        os.replace(SEAL_DRAFT, SEAL, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        os.close(folder)


def read_seal(directory: Path) -> Seal | None:
    """The seal, if present and made with this account's key; None when there is none."""
    try:
        found = _read_plain(directory / SEAL, MAX_SEAL_BYTES)
    except OSError as error:
        raise not_ours(directory, f"its seal cannot be read ({error.strerror})") from None
    if found is None:
        return None
    raw, info = found
    if not stat.S_ISREG(info.st_mode):
        raise not_ours(directory, "its seal is not a plain file")
    try:
        document = json.loads(raw)
        body, mac = _canonical(document["seal"]), document["mac"]
        valid = isinstance(mac, str) and hmac.compare_digest(
            hmac.new(account_key(), body, hashlib.sha256).hexdigest(), mac
        )
        seal = document["seal"]
        tables, writing = seal["tables"], seal["writing"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise not_ours(directory, "its seal is not one qwen3-rag wrote") from None
    if (
        not valid
        or seal.get("format") != SEAL_FORMAT
        or not isinstance(writing, bool)
        or not isinstance(tables, dict)
        or not all(isinstance(v, list) for v in tables.values())
    ):
        raise not_ours(directory, "it was sealed by another account or changed since")
    return Seal(tables, writing)


def check_sealed(directory: Path, tables: tuple[str, ...], *, writer: bool) -> dict[str, dict[str, str]]:
    """Refuse the index unless every manifest on disk is one this account sealed (see the module doc).

    Returns the manifests on disk. A `writer` (holding the lock) first removes the commits a killed
    writer left unsealed. A reader that finds the seal changing under it (a writer sealing, closing or
    swapping a rebuild in) looks again, a few times, before it refuses.
    """
    retries = 0
    while True:
        seal = read_seal(directory)
        on_disk = current(directory, tables)
        problem = _unsealed(seal, on_disk, directory, writer)
        if problem is None:
            return on_disk
        table, name, left_by_killed_writer = problem
        if writer and left_by_killed_writer:
            os.unlink(directory / table / "_versions" / name)  # roll back to the last sealed version
            continue
        if retries == RETRIES or (retries and read_seal(directory) == seal):  # nothing moved: it is as it is
            break
        retries += 1
        time.sleep(RETRY_SECONDS)
    if seal is None:
        raise not_ours(
            directory, "it has no seal of this account (indexes written before qwen3-rag sealed them have none either)"
        )
    if left_by_killed_writer:
        raise LocalIndexError(
            f"the index at {quoted(directory)} holds a commit of an indexing run that was "
            "interrupted; run qwen3-rag index on it again (as this account) to roll that commit "
            f"back and finish the work, or {rebuild_hint(directory)}"
        )
    raise not_ours(directory, f"{table}/_versions/{name} is not one this account sealed")


def _unsealed(
    seal: Seal | None, on_disk: Mapping[str, Mapping[str, str]], directory: Path, writer: bool
) -> tuple[str, str, bool] | None:
    """The first manifest on disk the seal does not cover (table, name, whether a killed writer of ours
    left it), or None when the seal covers all, or they are a live writer's commits in flight."""
    for table, found in on_disk.items():
        if seal is None:
            if found:
                return table, next(iter(found)), False
            continue
        sealed = seal.names(table)
        for name, digest in found.items():
            if seal.has(table, name, digest):
                continue
            newer = name not in sealed and _newer(name, sealed) and seal.writing
            if newer and not writer and writer_active(directory):
                continue  # the commit of a writer at work now
            return table, name, newer
    return None


def _newer(name: str, sealed: list[str]) -> bool:
    """Whether manifest `name` holds a version after every sealed one."""
    version = manifest_version(name)
    return version is not None and all(version > (manifest_version(other) or 0) for other in sealed)


def manifest_version(name: str) -> int | None:
    """The version a manifest file holds: LanceDB names it `N.manifest`, or (its newer scheme, so that
    the newest sorts first) `2**64 - 1 - N`."""
    number = name[: -len(MANIFEST_SUFFIX)]
    if not number.isdigit() or len(number) > 20:
        return None
    value = int(number)
    return (2**64 - 1 - value) if value >= 2**63 else value


def writer_active(directory: Path) -> bool:
    try:
        fd = os.open(directory / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also drops the shared lock, if it was taken
    return False


def not_ours(directory: Path, why: str) -> LocalIndexError:
    return LocalIndexError(
        f"the index at {quoted(directory)} was not written by this account, or was changed since ({why}); "
        "qwen3-rag opens only indexes it can prove this account wrote. If you copied or moved it from a source "
        f"you trust, accept it with: qwen3-rag index --index {quoted(directory)} --trust; otherwise rebuild it "
        f"with: qwen3-rag index DIR --index {quoted(directory)} --rebuild"
    )


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
