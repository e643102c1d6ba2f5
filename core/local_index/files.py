"""Finding and reading the text files of a folder, which may be a stranger's.

The walk never leaves the folders it was given: symbolic links are not followed unless asked,
and even then only to places inside those folders. Hidden and build/vendor folders are skipped.
Every entry that cannot be used (a name that is not UTF-8, a folder that cannot be listed, a
pipe, a file too large, a malformed record) is skipped and counted by reason; none stops a run.
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

    def files(self) -> Iterator[Path]:
        """Every regular file under the roots, in a stable order; a followed link keeps its own path."""
        visited: set[tuple[int, int]] = set()  # folders already walked: a link cycle ends here
        for root in self.roots:
            yield from self._folder(root, visited)

    def _folder(self, folder: Path, visited: set[tuple[int, int]]) -> Iterator[Path]:
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in visited:
                return
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            self.skipped[UNREADABLE_FOLDER] += 1
            return
        for entry in entries:
            if not is_unicode(entry.name):
                self.skipped[NAME_NOT_UTF8] += 1
            elif not entry.name.startswith("."):
                yield from self._entry(Path(entry.path), entry, visited)

    def _entry(self, path: Path, entry: os.DirEntry[str], visited: set[tuple[int, int]]) -> Iterator[Path]:
        try:
            if entry.is_symlink():
                if not self.follow_symlinks:
                    self.skipped[SYMLINK] += 1
                    return
                if not self.inside_roots(path):
                    self.skipped[LINK_OUT] += 1
                    return
            mode = os.stat(path).st_mode  # the link's target, which is inside the roots
        except OSError:  # vanished, or a dangling link
            self.skipped[UNREADABLE] += 1
            return
        if stat.S_ISDIR(mode):
            if path.name not in SKIPPED_DIRECTORIES and os.path.realpath(path) not in self.excluded:
                yield from self._folder(path, visited)
        elif stat.S_ISREG(mode):
            yield path
        else:
            self.skipped[NOT_REGULAR] += 1

    def inside_roots(self, path: Path) -> bool:
        """True when `path`, every link in it resolved, is one of the roots or lies under one."""
        return is_under(os.path.realpath(path), self.roots)


def is_under(path: str, roots: Sequence[Path]) -> bool:
    """Whether `path` is one of `roots` or lies below one, by its string alone (nothing is resolved or opened)."""
    return any(path == str(root) or path.startswith(str(root).rstrip(os.sep) + os.sep) for root in roots)


def read_file(path: Path, text_field: str = "text", follow_symlinks: bool = False,
              max_bytes: int = MAX_FILE_BYTES) -> FileText:
    """Hash and decode one file; JSONL gives one section per record's `text_field`.

    Opened without following a link (unless asked) and without blocking, so a file swapped for a
    link or a pipe after the walk is refused rather than followed or waited on.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
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
