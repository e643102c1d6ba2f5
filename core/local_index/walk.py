"""Finding and reading the text files of a folder, which may be a stranger's.

The walk never leaves the folders it was given: symbolic links are not followed unless asked,
and even then only to places inside those folders. Hidden and build/vendor folders are skipped.
Every entry that cannot be used (a name that is not UTF-8, a folder that cannot be listed, a
pipe, a file too large, a malformed record, a folder nested too deep) is skipped and counted by
reason; none stops a run.

The folder may change while it is walked, by a process racing us. So the walk holds a descriptor
of each folder and opens what is inside relative to it, never by a path that the kernel would
resolve again; and a file is read by opening each folder on its path in turn from its root,
without following links (or, where links are followed, checking where the opened file really
is). A folder swapped for a link between the walk and the read is refused, not followed.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..jsonl import jsonl_values
from ..validation import is_unicode

# Prose and markup, then source code and configuration: files a person would want to search.
TEXT_SUFFIXES = frozenset(
    ".txt .text .md .markdown .rst .adoc .org .tex .html .htm .xml .csv .tsv .log "
    ".py .pyi .ipynb .js .jsx .ts .tsx .mjs .java .kt .scala .go .rs .c .h .cc .cpp .hpp .cs .rb .php "
    ".swift .m .r .jl .lua .pl .sh .bash .zsh .sql .css .scss .vue .svelte .yaml .yml .toml .ini .cfg "
    ".json .proto .graphql .dockerfile .makefile".split()
)
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "venv", "site-packages", "dist", "build"})
BINARY_PROBE_BYTES = 8192
MAX_FILE_BYTES = 64 * 1024 * 1024  # larger "text" files are logs or dumps; skipped (and counted) by default

# Reasons an entry is skipped, as the summary line names them ("3 skipped (binary)").
NAME_NOT_UTF8 = "name not UTF-8"
SYMLINK = "symbolic link"
LINK_OUT = "link out of the folders"
UNREADABLE_FOLDER = "unreadable folder"
NOT_REGULAR = "pipe or device"
UNREADABLE = "unreadable"
BINARY = "binary"
TOO_LARGE = "too large"
RECORD_WITHOUT_TEXT = "JSONL record without text"
MALFORMED_RECORD = "malformed JSONL record"
TOO_DEEP = "folder nested too deep"

MAX_DEPTH = 64  # folders below a root; deeper ones are skipped and counted (a walk never recurses)
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(frozen=True)
class Section:
    """A stretch of a file's text that is chunked on its own, and the file line it starts on."""

    text: str
    first_line: int
    one_line: bool = False  # a JSONL record: every chunk of it points at its line, whatever newlines it holds


@dataclass(frozen=True)
class FileText:
    """What reading a file gave: its content hash and its sections, or why it was skipped."""

    sha256: str
    sections: list[Section]
    skipped: str | None = None  # one of the reasons above
    records_without_text: int = 0  # JSONL records with no string under the text field
    records_malformed: int = 0  # JSONL lines that are not JSON, too deep, or hold text that is not Unicode


def is_indexable(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES or path.suffix.lower() in JSONL_SUFFIXES


@dataclass
class Walk:
    """A walk over `roots` (absolute, links resolved) that counts what it skips in `skipped`."""

    roots: Sequence[Path]
    follow_symlinks: bool = False
    skipped: Counter[str] = field(default_factory=Counter)
    excluded: frozenset[str] = frozenset()  # real paths of folders never walked (the index's own)
    max_depth: int = MAX_DEPTH

    def files(self) -> Iterator[Path]:
        """Every regular file under the roots, in a stable order; a followed link keeps its own path."""
        for path, _ in self.entries():
            yield path

    def entries(self) -> Iterator[tuple[Path, os.stat_result]]:
        """`files()`, each with its status as read through its folder's descriptor."""
        visited: set[tuple[int, int]] = set()  # folders already walked: a link cycle ends here
        for root in self.roots:
            yield from self._tree(root, visited)

    def _tree(self, root: Path, visited: set[tuple[int, int]]) -> Iterator[tuple[Path, os.stat_result]]:
        """Depth first with an explicit stack of (path, descriptor, remaining entries): no recursion."""
        try:
            root_fd = os.open(root, FOLDER_FLAGS | os.O_NOFOLLOW)  # a root is a real path: a link now is a swap
        except OSError:
            self.skipped[UNREADABLE_FOLDER] += 1
            return
        stack = [(root, root_fd, self._listing(root_fd, visited))]
        try:
            while stack:
                path, fd, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    os.close(fd)
                    stack.pop()
                    continue
                found = self._entry(fd, path / entry.name, entry)
                if isinstance(found, os.stat_result):
                    yield path / entry.name, found
                elif found is not None:
                    if len(stack) > self.max_depth:
                        os.close(found)
                        self.skipped[TOO_DEEP] += 1
                    else:
                        stack.append((path / entry.name, found, self._listing(found, visited)))
        finally:
            for _, fd, _ in stack:
                os.close(fd)

    def _listing(self, fd: int, visited: set[tuple[int, int]]) -> Iterator[os.DirEntry[str]]:
        """The usable names in the folder open as `fd`, sorted; nothing when it was walked already."""
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) in visited:
                return iter(())
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(fd) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            self.skipped[UNREADABLE_FOLDER] += 1
            return iter(())
        usable = []
        for entry in entries:
            if not is_unicode(entry.name):
                self.skipped[NAME_NOT_UTF8] += 1
            elif not entry.name.startswith("."):
                usable.append(entry)
        return iter(usable)

    def _entry(self, folder: int, path: Path, entry: os.DirEntry[str]) -> os.stat_result | int | None:
        """A file's status, a subfolder's open descriptor, or None (skipped, and counted)."""
        try:
            link = entry.is_symlink()
            if link and not self.follow_symlinks:
                self.skipped[SYMLINK] += 1
                return None
            info = os.stat(entry.name, dir_fd=folder, follow_symlinks=link)
        except OSError:  # vanished, or a dangling link
            self.skipped[UNREADABLE] += 1
            return None
        if link and not self.inside_roots(path):
            self.skipped[LINK_OUT] += 1
            return None
        if stat.S_ISREG(info.st_mode):
            return info
        if not stat.S_ISDIR(info.st_mode):
            self.skipped[NOT_REGULAR] += 1
            return None
        if entry.name in SKIPPED_DIRECTORIES:
            return None
        return self._open_folder(folder, path, follow=link)

    def _open_folder(self, parent: int, path: Path, follow: bool) -> int | None:
        try:
            fd = os.open(path.name, FOLDER_FLAGS | (0 if follow else os.O_NOFOLLOW), dir_fd=parent)
        except OSError:  # swapped for a link or a file since it was listed, or unreadable
            self.skipped[UNREADABLE_FOLDER] += 1
            return None
        real = opened_path(fd)
        if (real or os.path.realpath(path)) in self.excluded:  # the index's own folder
            os.close(fd)
            return None
        if follow and (real is None or not is_under(real, self.roots)):
            os.close(fd)  # a followed link a racer pointed outside, or (no /proc) one that cannot be checked
            self.skipped[LINK_OUT] += 1
            return None
        return fd

    def inside_roots(self, path: Path) -> bool:
        """True when `path`, every link in it resolved, is one of the roots or lies under one."""
        return is_under(os.path.realpath(path), self.roots)


def opened_path(fd: int) -> str | None:
    """Where the file or folder open as `fd` really is (Linux's /proc), whatever path led to it; None
    where the system cannot tell."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def open_inside(path: Path, roots: Sequence[Path], follow_symlinks: bool = False) -> int:
    """Open the file `path` for reading from the root it lies under, one folder at a time.

    Without `follow_symlinks` no component is followed if it is a link (ELOOP/ENOTDIR instead), so a
    folder on the path swapped for a link after the walk cannot lead outside. With it, links are
    followed but the opened file must really lie under a root. Raises OSError otherwise.
    """
    text = str(path)
    root = max((r for r in roots if is_under(text, [r])), key=lambda r: len(str(r)), default=None)
    if root is None or text == str(root):
        raise OSError(f"{text!r} is not inside the folders being indexed")
    no_follow = 0 if follow_symlinks else os.O_NOFOLLOW
    *folders, name = path.relative_to(root).parts
    fd = os.open(root, FOLDER_FLAGS | os.O_NOFOLLOW)
    try:
        for folder in folders:
            inner = os.open(folder, FOLDER_FLAGS | no_follow, dir_fd=fd)
            os.close(fd)
            fd = inner
        opened = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | no_follow, dir_fd=fd)
    finally:
        os.close(fd)
    real = opened_path(opened)
    if follow_symlinks and (real is None or not is_under(real, roots)):  # unknown where it is: refused
        os.close(opened)
        raise OSError(f"{text!r} leads outside the folders being indexed, or cannot be checked")
    return opened


def status_inside(root: Path, relative: str) -> os.stat_result:
    """The status of `root / relative`, reached one folder at a time without following any link and
    without opening anything for reading (O_PATH). Raises OSError (ENOENT, ENOTDIR, ELOOP, ...)."""
    *folders, name = Path(relative).parts
    flags = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags)
    try:
        for folder in folders:
            inner = os.open(folder, flags, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)


def is_under(path: str, roots: Sequence[Path]) -> bool:
    """Whether `path` is one of `roots` or lies below one, by its string alone (nothing is resolved or opened)."""
    return any(path == str(root) or path.startswith(str(root).rstrip(os.sep) + os.sep) for root in roots)


def read_file(
    path: Path,
    text_field: str = "text",
    follow_symlinks: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    roots: Sequence[Path] | None = None,
) -> FileText:
    """Hash and decode one file; JSONL gives one section per record's `text_field`.

    Opened without following a link (unless asked) and without blocking, so a file swapped for a
    link or a pipe after the walk is refused rather than followed or waited on. Given the walk's
    `roots`, every folder on the way is opened in turn from the root (`open_inside`), so a swapped
    folder is refused too.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = open_inside(path, roots, follow_symlinks) if roots is not None else os.open(path, flags)
    except OSError:
        return FileText("", [], skipped=UNREADABLE)
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return FileText("", [], skipped=NOT_REGULAR)
        if info.st_size > max_bytes:
            return FileText("", [], skipped=TOO_LARGE)
        try:
            data = stream.read(max_bytes + 1)
        except OSError:
            return FileText("", [], skipped=UNREADABLE)
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > max_bytes:  # grew while we read
        return FileText(digest, [], skipped=TOO_LARGE)
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        return FileText(digest, [], skipped=BINARY)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return FileText(digest, [], skipped=BINARY)
    if path.suffix.lower() not in JSONL_SUFFIXES:
        return FileText(digest, [Section(text, 1)])
    return _jsonl_sections(digest, text, text_field)


def _jsonl_sections(digest: str, text: str, text_field: str) -> FileText:
    """One section per record; a bad record is counted and skipped, the rest of the file still counts."""
    sections, missing, malformed = [], 0, list[int]()
    # JSON Lines break at \n only: U+2028 and its kind are text, which str.splitlines() would split on.
    for number, record in jsonl_values(text.split("\n"), "", skip_malformed=malformed.append):
        value = record.get(text_field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            missing += 1
        elif not is_unicode(value):  # no tokenizer takes lone surrogates
            malformed.append(number)
        else:
            sections.append(Section(value, number, one_line=True))
    return FileText(digest, sections, records_without_text=missing, records_malformed=len(malformed))
