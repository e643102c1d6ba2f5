"""Finding and reading the text files of a folder: which files count, and what text each holds."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError
from ..jsonl import jsonl_values

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
    skipped: str | None = None  # "binary" or "unreadable"
    records_without_text: int = 0  # JSONL lines with no string under the text field


def is_indexable(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES or path.suffix.lower() in JSONL_SUFFIXES


def walk(root: Path) -> Iterator[Path]:
    """Every regular file under `root`, in a stable order, skipping hidden and build/vendor folders.

    Symbolic links to files are followed; links to folders are not, so a cycle cannot loop.
    """
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            path = Path(folder, name)
            if not name.startswith(".") and path.is_file():
                yield path


def read_file(path: Path, text_field: str = "text") -> FileText:
    """Hash and decode one file; JSONL gives one section per record's `text_field`."""
    try:
        data = path.read_bytes()
    except OSError:
        return FileText("", [], skipped="unreadable")
    digest = hashlib.sha256(data).hexdigest()
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        return FileText(digest, [], skipped="binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return FileText(digest, [], skipped="binary")
    if path.suffix.lower() not in JSONL_SUFFIXES:
        return FileText(digest, [Section(text, 1)])
    sections, missing = [], 0
    try:
        for number, record in jsonl_values(text.splitlines(), str(path)):
            value = record.get(text_field) if isinstance(record, dict) else None
            if isinstance(value, str):
                sections.append(Section(value, number, one_line=True))
            else:
                missing += 1
    except InvalidInputError:
        return FileText(digest, [], skipped="unreadable")
    return FileText(digest, sections, records_without_text=missing)
