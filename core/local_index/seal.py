"""Proof that an index was written by this account, checked before LanceDB reads any of it.

LanceDB trusts its manifests: a manifest can point it at files outside the index (base paths,
data-file paths), at a pipe, or at a 17 MB list of fragments. So an index folder that arrived with
other files (a repository that ships its own `.qwen3-rag/`, an archive, a shared drive) must not
reach LanceDB at all. Each writer keeps a seal beside the tables, with an HMAC under a key that only
this account can read (created on first use, mode 0600). It holds:

- the SHA-256 of every manifest committed: every manifest on disk must be in the seal with that hash;
- the newest manifest of each table: a reader refuses an index that lacks it (the newest versions
  deleted roll a table back to older content: a revoked document would come back);
- every file the sealed manifests name (data, deletion, transaction and index files), with its size,
  SHA-256 and stat identity (inode, mtime and ctime in ns; ctime changes with every write and cannot
  be set back). Lance never rewrites a file once written, so a writer hashes only the files that are
  new since the last seal: the others keep the record the authenticated seal already holds.

Before a search, the files that the served version names are checked: every size and identity (a
stat each: milliseconds for a 1M-chunk index), and the SHA-256 of those whose identity differs (a
copied index: paid once per open until the next writer or `--trust` records the copy's identities).
`--trust` hashes everything. A reader serves the newest *sealed* version, never a writer's commit
that is not sealed yet.

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
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from ..display import quoted
from ..errors import LocalIndexError
from .account import account_key
from .advice import rebuild_hint, trust_call, update_hint
from .folder import LOCK, SEAL, SEAL_DRAFT, read_plain
from .manifest_check import MAX_MANIFEST_BYTES, ManifestRefused, named_files

MAX_SEAL_BYTES = 64 * 2**20  # about 150 bytes a sealed file
MANIFEST_SUFFIX = ".manifest"
RETRIES, RETRY_SECONDS = 5, 0.05  # a reader racing a writer's seal looks again this often
# A reader waits this long for a writer to seal, when the writer's clean-up has removed every sealed version.
WRITER_SEAL_WAIT_SECONDS = 30.0
SEAL_FORMAT = 2  # 1 (qwen3-rag before issue 33) sealed manifests only; it is read to say so, never trusted
INDICES = "_indices/"


Record = list[Any]  # a sealed file: [size, sha256, st_ino, st_mtime_ns, st_ctime_ns]


@dataclass(frozen=True, eq=True)
class Seal:
    tables: Mapping[str, list[str]]  # table folder -> sealed "manifest-name sha256" entries
    writing: bool
    # table folder -> "manifest-name sha256" of its newest manifest (two while a rebuild swaps tables)
    newest: Mapping[str, list[str]] = field(default_factory=dict)
    files: Mapping[str, Mapping[str, Record]] = field(default_factory=dict)  # table folder -> path in it -> record
    format: int = SEAL_FORMAT

    def has(self, table: str, name: str, digest: str) -> bool:
        return f"{name} {digest}" in self.tables.get(table, ())

    def names(self, table: str) -> list[str]:
        return [entry.split(" ")[0] for entry in self.tables.get(table, ())]


class Manifests(dict[str, dict[str, str]]):
    """The manifests of an index's tables (table folder -> manifest name -> SHA-256), and the index
    folder they were listed in (a rebuild seals the tables it built aside under the index they join)."""

    def __init__(self, folder: Path, found: Mapping[str, dict[str, str]]):
        super().__init__(found)
        self.folder = folder


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


# Digests of files already read, by what identifies the file's bytes: LanceDB writes each version and
# data file to a new file, so a writer that seals after every commit hashes only the new ones (ctime
# changes with any write, and cannot be set back).
_digests: dict[tuple[int, int, int, int, int], str] = {}
MAX_CACHED_DIGESTS = 65536
# The files each manifest names, by the manifest's SHA-256 (decoded once per process).
_named: dict[str, list[str]] = {}
HASH_BLOCK = 1 << 20


def _identity_key(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _remember(info: os.stat_result, digest: str) -> str:
    if len(_digests) >= MAX_CACHED_DIGESTS:
        _digests.clear()
    _digests[_identity_key(info)] = digest
    return digest


def _file_hash(path: Path) -> str | None:
    """A manifest's SHA-256; None when it is gone. One over `MAX_MANIFEST_BYTES` is refused by its size, unread."""
    try:
        info = os.stat(path, follow_symlinks=False)
        if stat.S_ISREG(info.st_mode) and _identity_key(info) in _digests:
            return _digests[_identity_key(info)]
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise LocalIndexError(f"{quoted(path)} cannot be read as a manifest ({error.strerror})") from None
    with os.fdopen(fd, "rb") as opened:
        info = os.fstat(opened.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            raise LocalIndexError(
                f"{quoted(path)} is not a manifest qwen3-rag wrote (not a plain file, or over "
                f"{MAX_MANIFEST_BYTES >> 20} MiB)"
            )
        return _remember(info, hashlib.sha256(opened.read(MAX_MANIFEST_BYTES + 1)).hexdigest())


def _data_hash(path: Path) -> tuple[str, os.stat_result]:
    """A served file's SHA-256 and its status, read in blocks without following a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as opened:
        info = os.fstat(opened.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FileNotFoundError(f"{path} is not a regular file")
        known = _digests.get(_identity_key(info))
        if known is not None:
            return known, info
        digest = hashlib.sha256()
        while block := opened.read(HASH_BLOCK):
            digest.update(block)
        return _remember(info, digest.hexdigest()), info


def current(directory: Path, tables: tuple[str, ...]) -> Manifests:
    return Manifests(directory, {table: manifests(directory / table) for table in tables})


def served_files(table_folder: Path, name: str, digest: str) -> list[str]:
    """The files (relative to its table folder) that the manifest `name` with SHA-256 `digest` makes
    LanceDB read; an index folder it names stands for the files inside it."""
    names = _named.get(digest)
    if names is None:
        path = table_folder / "_versions" / name
        try:
            with open(path, "rb", opener=_no_follow) as handle:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
            if hashlib.sha256(data).hexdigest() != digest:
                raise ManifestRefused("it changed while it was read")
            names = named_files(data)
        except FileNotFoundError:
            raise LocalIndexError(f"{quoted(path)} was removed while it was read") from None
        except ManifestRefused as error:
            raise LocalIndexError(f"{quoted(path)} is not a manifest qwen3-rag wrote: {error}") from None
        if len(_named) >= MAX_CACHED_DIGESTS:
            _named.clear()
        _named[digest] = names
    found: list[str] = []
    for relative in names:
        if relative.startswith(INDICES):
            try:
                inside = os.listdir(table_folder / relative)
            except FileNotFoundError:
                raise missing(table_folder, relative) from None
            found.extend(f"{relative}/{entry}" for entry in sorted(inside))
            found.append(relative + "/")  # the folder itself: its sealed content is compared with what it holds
        else:
            found.append(relative)
    return found


def _record(table_folder: Path, relative: str, before: Record | None, directory: Path) -> Record:
    """What seals a file: kept from `before` (the authenticated seal) when the file's identity is that
    record's; else hashed, and a file the seal knew must still have the bytes it had."""
    path = table_folder / relative
    try:
        info = os.lstat(path)
        if _valid(before) and [info.st_size, *_identity(info)] == [before[0], *before[2:]]:
            return before
        digest, info = _data_hash(path)
    except FileNotFoundError:
        raise missing(table_folder, relative) from None
    if _valid(before) and (before[0], before[1]) != (info.st_size, digest):
        raise changed(directory, f"{table_folder.name}/{relative}")
    return [info.st_size, digest, *_identity(info)]


def missing(table_folder: Path, relative: str) -> LocalIndexError:
    directory = table_folder.parent
    return LocalIndexError(
        f"the index at {quoted(directory)} is damaged ({table_folder.name}/{relative.rstrip('/')}, which a "
        f"manifest names, is missing or not a plain file); {rebuild_hint()}"
    )


def _valid(record: object) -> TypeGuard[Record]:
    return isinstance(record, list) and len(record) == 5


def _identity(info: os.stat_result) -> list[int]:
    return [info.st_ino, info.st_mtime_ns, info.st_ctime_ns]


def _table_files(
    table_folder: Path, found: Mapping[str, str], before: Mapping[str, Record], directory: Path
) -> dict[str, Record]:
    named: set[str] = set()
    for name, digest in found.items():
        named.update(relative for relative in served_files(table_folder, name, digest) if not relative.endswith("/"))
    return {relative: _record(table_folder, relative, before.get(relative), directory) for relative in sorted(named)}


def write_seal(directory: Path, *states: Mapping[str, Mapping[str, str]], writing: bool, rehash: bool = False) -> None:
    """Seal the manifests of these states (table -> name -> SHA-256; several while a rebuild swaps
    tables), the newest of each table and the files they name, under this account's key. Only the
    writer, who holds the write lock, calls this.

    A file the index's present seal records keeps its record while its identity is unchanged; others
    are hashed. `rehash` (for --trust) hashes every file and trusts no earlier record.
    """
    tables: dict[str, list[str]] = {}
    newest: dict[str, list[str]] = {}
    files: dict[str, dict[str, Record]] = {}
    for state in states:
        folder = state.folder if isinstance(state, Manifests) else directory
        before = {} if rehash else _sealed_files(folder)
        for table, found in state.items():
            tables.setdefault(table, []).extend(f"{name} {digest}" for name, digest in found.items())
            if found:
                last = max(found, key=lambda name: manifest_version(name) or 0)
                newest.setdefault(table, []).append(f"{last} {found[last]}")
            files.setdefault(table, {}).update(_table_files(folder / table, found, before.get(table, {}), directory))
    body = _canonical(
        {
            "format": SEAL_FORMAT,
            "tables": {table: sorted(set(entries)) for table, entries in tables.items()},
            "newest": {table: sorted(set(entries)) for table, entries in newest.items()},
            "files": files,
            "writing": writing,
        }
    )
    _write_sealed(directory, body)


def _write_sealed(directory: Path, body: bytes) -> None:
    mac = hmac.new(account_key(), body, hashlib.sha256).hexdigest()
    replace_seal(directory, json.dumps({"seal": json.loads(body), "mac": mac}).encode())


def replace_seal(directory: Path, raw: bytes | None) -> None:
    """Put `raw` in place as the seal, whole (written aside, then renamed over it); None removes the seal."""
    folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if raw is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(SEAL, dir_fd=folder)
            return
        fd = os.open(
            SEAL_DRAFT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder
        )
        with os.fdopen(fd, "wb") as draft:
            draft.write(raw)
            draft.flush()
            os.fsync(draft.fileno())
        os.replace(SEAL_DRAFT, SEAL, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        os.close(folder)


def saved_seal(directory: Path) -> bytes | None:
    """The seal's bytes as they are (to put back with `replace_seal` if what replaces them is withdrawn)."""
    found = read_plain(directory / SEAL, MAX_SEAL_BYTES)
    return found[0] if found is not None and stat.S_ISREG(found[1].st_mode) else None


def _sealed_files(folder: Path) -> Mapping[str, Mapping[str, Record]]:
    """The file records of the seal in `folder`, when it is one this account made; else none."""
    try:
        seal = read_seal(folder)
    except LocalIndexError:
        return {}
    return seal.files if seal is not None else {}


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def read_seal(directory: Path) -> Seal | None:
    """The seal, if present and made with this account's key; None when there is none."""
    try:
        found = read_plain(directory / SEAL, MAX_SEAL_BYTES)
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
        tables, writing, version = seal["tables"], seal["writing"], seal.get("format")
        newest, files = seal.get("newest", {}), seal.get("files", {})
    except (ValueError, KeyError, TypeError, RecursionError, AttributeError):
        raise not_ours(directory, "its seal is not one qwen3-rag wrote") from None
    if (
        not valid
        or version not in (1, SEAL_FORMAT)
        or not isinstance(writing, bool)
        or not _lists(tables)
        or not _lists(newest)
        or not isinstance(files, dict)
        or not all(isinstance(records, dict) for records in files.values())
    ):
        raise not_ours(directory, "it was sealed by another account or changed since")
    return Seal(tables, writing, newest, files, version)


def _lists(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, list) for v in value.values())


def check_sealed(directory: Path, tables: tuple[str, ...], *, writer: bool) -> Manifests:
    """Refuse the index unless every manifest on disk is one this account sealed, and the newest sealed
    manifest of each table is still there (see the module doc).

    Returns the manifests on disk. A `writer` (holding the lock) first removes the commits a killed
    writer left unsealed. A reader that finds the seal changing under it (a writer sealing, closing or
    swapping a rebuild in) looks again, a few times, before it refuses.
    """
    return _checked(directory, tables, writer)[1]


def _checked(directory: Path, tables: tuple[str, ...], writer: bool) -> tuple[Seal | None, Manifests]:
    retries = 0
    while True:
        seal = read_seal(directory)
        on_disk = current(directory, tables)
        problem = _problem(seal, on_disk, directory, writer)
        if problem is None:
            return seal, on_disk
        kind, table, name = problem
        if writer and kind == "interrupted":
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
    if kind == "format":
        raise LocalIndexError(
            f"the index at {quoted(directory)} was sealed by an earlier qwen3-rag, whose seal covers its manifests "
            "but not its data files; if this account wrote it, seal it again (once) with: "
            f"{trust_call(directory)}; otherwise {rebuild_hint()}"
        )
    if kind == "interrupted":
        raise LocalIndexError(
            f"the index at {quoted(directory)} holds a commit of an indexing run that was "
            f"interrupted; {update_hint()} (as this account) to roll that commit "
            f"back and finish the work, or {rebuild_hint()}"
        )
    if kind == "rolled back":
        raise LocalIndexError(
            f"the index at {quoted(directory)} lacks its newest version ({table}/_versions/{name}, sealed by this "
            f"account): it was rolled back to older content, or damaged; {rebuild_hint()}, or accept "
            f"the version it holds now with: {trust_call(directory)}"
        )
    raise not_ours(directory, f"{table}/_versions/{name} is not one this account sealed")


def _problem(
    seal: Seal | None, on_disk: Mapping[str, Mapping[str, str]], directory: Path, writer: bool
) -> tuple[str, str, str] | None:
    """What refuses the index: ("format", "", ""), or (kind, table, manifest name) for a manifest that is
    "unsealed", "interrupted" (a killed writer of ours left it) or "rolled back" (the newest sealed, missing)."""
    if seal is not None and seal.format != SEAL_FORMAT:
        return "format", "", ""
    unsealed = _unsealed(seal, on_disk, directory, writer)
    if unsealed is not None:
        table, name, left_by_killed_writer = unsealed
        return ("interrupted" if left_by_killed_writer else "unsealed"), table, name
    if seal is None:
        return None
    for table, found in on_disk.items():
        wanted = [entry.split(" ") for entry in seal.newest.get(table, [])]
        if not wanted or any(found.get(name) == digest for name, digest in wanted):
            continue
        sealed = seal.names(table)
        in_flight = [name for name in found if name not in sealed and _newer(name, sealed)]
        if not writer and in_flight and seal.writing and writer_active(directory):
            continue  # a writer at work whose clean-up, after commits of its own, removed the newest sealed
        return "rolled back", table, wanted[0][0]
    return None


def check_served(directory: Path, tables: tuple[str, ...], table: str, version: int | None = None) -> int | None:
    """Check the index as `check_sealed` does, then the files of the version of `table` that a reader
    opens: its newest sealed version (or `version`, when sealed and on disk). Returns that version; None
    when the table has no manifest.

    Every file the version names must be one the seal records, with its size; a file whose stat identity
    differs from the record (a copied index) must have its sealed SHA-256. A writer's commits not yet
    sealed are never served: while a writer's clean-up has left no sealed version, this waits for its seal.
    """
    deadline = time.monotonic() + WRITER_SEAL_WAIT_SECONDS
    while True:
        seal, on_disk = _checked(directory, tables, writer=False)
        found = on_disk.get(table, {})
        sealed = {name: digest for name, digest in found.items() if seal is not None and seal.has(table, name, digest)}
        if version is not None:
            sealed = {name: digest for name, digest in sealed.items() if manifest_version(name) == version}
            if not sealed:
                raise LocalIndexError(f"the index at {quoted(directory)} has no version {version!r}")
        if sealed or not found:
            break
        if time.monotonic() > deadline:
            raise LocalIndexError(
                f"the index at {quoted(directory)} is being written by an indexing run that has not sealed "
                "its newest version yet; search again when that run is done"
            )
        time.sleep(RETRY_SECONDS)
    if not sealed or seal is None:
        return None
    name = max(sealed, key=lambda name: manifest_version(name) or 0)
    _check_files(directory / table, name, sealed[name], seal.files.get(table, {}))
    return manifest_version(name)


def _check_files(table_folder: Path, name: str, digest: str, records: Mapping[str, Record]) -> None:
    directory = table_folder.parent
    served = served_files(table_folder, name, digest)
    present = {relative for relative in served if not relative.endswith("/")}
    for folder in (relative for relative in served if relative.endswith("/")):
        lost = sorted(relative for relative in records if relative.startswith(folder) and relative not in present)
        if lost:
            raise missing(table_folder, lost[0])
    for relative in sorted(present):
        record = records.get(relative)
        path = table_folder / relative
        if not _valid(record):
            raise not_ours(directory, f"{table_folder.name}/{relative} is not a file this account sealed")
        try:
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and info.st_size == record[0] and _identity(info) == record[2:]:
                continue
            same = stat.S_ISREG(info.st_mode) and info.st_size == record[0] and _data_hash(path)[0] == record[1]
        except FileNotFoundError:
            raise missing(table_folder, relative) from None
        if not same:
            raise changed(directory, f"{table_folder.name}/{relative}")


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


def changed(directory: Path, file: str) -> LocalIndexError:
    """A file the seal records holds other bytes: a disk error, a torn copy, or a change behind our back."""
    return LocalIndexError(
        f"the index at {quoted(directory)} is damaged, or was changed since this account sealed it ({file} does "
        f"not hold the bytes that were sealed); {rebuild_hint()}, or, if it came from a source you trust, "
        f"accept it as it is now with: {trust_call(directory)}"
    )


def not_ours(directory: Path, why: str) -> LocalIndexError:
    return LocalIndexError(
        f"the index at {quoted(directory)} was not written by this account, or was changed since ({why}); "
        "qwen3-rag opens only indexes it can prove this account wrote. If you copied or moved it from a source "
        f"you trust, accept it with: {trust_call(directory)}; otherwise {rebuild_hint()}"
    )


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
