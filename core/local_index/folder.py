"""The index folder: the one place `qwen3-rag index` writes, checked before anything in it is used.

An index folder may arrive with the files being indexed (a repository that ships its own
`.qwen3-rag/`), so its content is a stranger's. Before any use, the folder itself must not be a
symbolic link and must hold only what qwen3-rag and LanceDB create: the table folders and the
lock file, made of plain folders and single-link regular files with plain names. No symbolic link,
hard link, pipe or device is accepted anywhere inside, and nothing read from the folder is ever
used as a path. The lock file is opened relative to the folder's descriptor without following
links. (A process racing us on the same disk is out of scope: the threat is hostile content.)
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..display import quoted as _quoted
from ..errors import LocalIndexError
from .advice import build_hint, rebuild_hint

TABLES = ("chunks", "files")
TABLE_FOLDERS = frozenset(f"{table}.lance" for table in TABLES)
LOCK = "write.lock"
SEAL = "qwen3-rag.seal"  # see seal.py
SEAL_DRAFT = "qwen3-rag.seal.draft"  # written whole, then renamed over SEAL
SEAL_FILES = frozenset({SEAL, SEAL_DRAFT})
MODELS = "qwen3-rag.models"  # the models this account built the index with (see own_models.py)
MODELS_DRAFT = "qwen3-rag.models.draft"
ACCOUNT_FILES = SEAL_FILES | {MODELS, MODELS_DRAFT}  # what qwen3-rag writes beside the tables
STAGING = "rebuild"  # a whole index built aside by --rebuild, swapped in when complete
# The first store format (SQLite and a vector file, before LanceDB).
OLD_FORMAT = re.compile(r"index\.sqlite(-wal|-shm|-journal)?|vectors-[0-9a-f]+\.f32\Z")
# What LanceDB names its files and folders (".tmpXXXXXX" while a file is being written).
SAFE_NAME = re.compile(r"[A-Za-z0-9_.=#-]{1,255}\Z")
MAX_DEPTH = 8  # LanceDB's deepest entry is table/_indices/<uuid>/<file>: a deeper tree is not its own


def no_index_error(directory: str | os.PathLike[str]) -> LocalIndexError:
    """There is no index at `directory`: said alike before LanceDB is imported (cli/checks.py) and after."""
    return LocalIndexError(f"no index at {_quoted(directory)}; {build_hint()}")


def check_same_settings(directory: Path, recorded: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Refuse to mix vectors: every setting in `wanted` must equal the one recorded."""
    clashes = [
        f"{key}: index has {recorded.get(key)!r}, asked for {value!r}"
        for key, value in wanted.items()
        if recorded.get(key) != value
    ]
    if clashes:
        raise LocalIndexError(
            f"the index at {_quoted(directory)} was built with other settings "
            f"({'; '.join(clashes)}); use the index's settings, or {rebuild_hint()}"
        )


def check_folder(directory: Path) -> bool:
    """True when `directory` holds an index, False when it is missing or empty; raises when it is unsafe.

    Unsafe: a symbolic link, not a folder, an entry qwen3-rag did not create, or a link, pipe or
    device anywhere inside. An index in the first format (SQLite and a vector file, before LanceDB) asks for a rebuild.
    """
    names = _entries(directory)
    if names is None:
        return False
    old = sorted(name for name in names if OLD_FORMAT.match(name))
    if old:
        raise LocalIndexError(
            f"the index at {_quoted(directory)} is in the format of qwen3-rag 0.1 before LanceDB "
            f"({', '.join(old)}); {rebuild_hint()}"
        )
    foreign = sorted(names - TABLE_FOLDERS - ACCOUNT_FILES - {LOCK, STAGING})
    if foreign:
        raise LocalIndexError(
            f"the index folder {_quoted(directory)} holds entries qwen3-rag did not create "
            f"({', '.join(_quoted(n) for n in foreign[:5])}); it is not an index: choose "
            "another index folder, or remove that folder yourself"
        )
    for name in names - {STAGING}:
        _check_entry(directory / name, depth=1)
    if STAGING in names:
        _check_staging(directory / STAGING)
    return bool(names & TABLE_FOLDERS)


def _check_staging(path: Path) -> None:
    """A rebuild's folder must be a real folder; its content is not read here. Only the writer that
    holds the lock reads it, and that writer deletes it and starts anew (`IndexStore.create_or_open`).
    LanceDB links each new manifest into place, so a reader that listed a rebuild in progress could
    see a transient hard link and would wrongly refuse the index it is searching."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:  # the rebuild was swapped in since the folder was listed
        return
    if not stat.S_ISDIR(info.st_mode):
        raise LocalIndexError(
            f"the index folder holds {_quoted(path)}, which is not a folder; qwen3-rag never creates such "
            f"an entry, so the index is damaged or planted: {rebuild_hint()}"
        )


def _entries(directory: Path) -> set[str] | None:
    """The names in `directory`; None when it does not exist. Raises when it is a link or not a folder."""
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise LocalIndexError(
            f"the index folder {_quoted(directory)} is a symbolic link; qwen3-rag writes only "
            "into a real folder: give its target as the index folder, or another folder"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise LocalIndexError(f"the index path {_quoted(directory)} is not a folder; choose another index folder")
    return set(os.listdir(directory))


def _check_entry(path: Path, depth: int) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:  # a writer renamed or cleaned it up since the folder was listed
        return
    problem = None
    if not SAFE_NAME.match(path.name):
        problem = "has a name qwen3-rag does not create"
    elif stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif stat.S_ISDIR(info.st_mode):
        if depth >= MAX_DEPTH:
            problem = "is nested deeper than an index is"
        else:
            for name in _listing(path):
                _check_entry(path / name, depth + 1)
    elif not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_nlink != 1:
        problem = "is a hard link"
    if problem:
        raise LocalIndexError(
            f"the index folder holds {_quoted(path)}, which {problem}; qwen3-rag never creates "
            "such an entry, so the index is damaged or planted: "
            f"{rebuild_hint()}"
        )


def _listing(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:  # an old index folder the writer's clean-up removed
        return []


class WriteLock:
    """An exclusive lock on the index folder for one writer, held until `release()`.

    The lock file is readable by its owner only (0600; an older one of ours is made so): a lock needs
    only an open descriptor, so another local user who could open it could hold it and block our writes.
    """

    def __init__(self, directory: Path):
        folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            self._fd = os.open(
                LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600, dir_fd=folder
            )
        except OSError as error:  # ELOOP: a link planted where the lock goes
            raise LocalIndexError(
                f"cannot open the lock file in {_quoted(directory)} ({error.strerror}); {rebuild_hint()}"
            ) from None
        finally:
            os.close(folder)
        info = os.fstat(self._fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(self._fd)
            raise LocalIndexError(f"the lock file in {_quoted(directory)} is not a plain file; {rebuild_hint()}")
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            # Readable by others, any local user could open it and hold a lock that blocks our writes.
            os.fchmod(self._fd, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise LocalIndexError(f"another qwen3-rag process is writing the index at {_quoted(directory)}") from None

    def release(self) -> None:
        os.close(self._fd)


def make_folder(directory: Path) -> None:
    """Create the index folder (and its parents) if missing; refuse one that is a link or not a folder."""
    if _entries(directory) is None:
        directory.mkdir(parents=True, exist_ok=True)
        _entries(directory)  # what mkdir found or made must be a real folder


def clear_folder(directory: Path) -> None:
    """Delete an index's tables (or the first format's files) for `--rebuild`, never anything else.

    Only entries qwen3-rag creates are deleted; links are removed as links, never followed
    (`shutil.rmtree` works through folder descriptors on this platform).
    """
    names = _entries(directory) or set()
    foreign = sorted(n for n in names - TABLE_FOLDERS - ACCOUNT_FILES - {LOCK, STAGING} if not OLD_FORMAT.match(n))
    if foreign:
        raise LocalIndexError(
            f"the index folder {_quoted(directory)} holds entries qwen3-rag did not create "
            f"({', '.join(_quoted(n) for n in foreign[:5])}); a rebuild deletes only an "
            "index's own files: choose another index folder, or remove that folder yourself"
        )
    for name in sorted(names - {LOCK}):
        path = directory / name
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            path.unlink()


def exchange(first: Path, second: Path) -> None:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE), so a reader finds one or the
    other at each path, never neither. Where the call is missing, two renames leave a moment without
    `second`."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_cwd, rename_exchange = -100, 2
        if renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), rename_exchange) == 0:
            return
        errno = ctypes.get_errno()
        if errno not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot; rename instead
            raise OSError(errno, os.strerror(errno), str(first))
    aside = first.with_name(first.name + ".old")
    os.rename(second, aside)
    os.rename(first, second)
    os.rename(aside, first)


def read_plain(path: Path, limit: int) -> tuple[bytes, os.stat_result] | None:
    """At most `limit` + 1 bytes of the file at `path`, opened without following a link or blocking on a
    pipe, and its status; None when it does not exist. The caller checks that status."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as opened:
        info = os.fstat(opened.fileno())
        return (opened.read(limit + 1) if stat.S_ISREG(info.st_mode) else b""), info
