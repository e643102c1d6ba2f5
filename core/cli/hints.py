"""The rebuild hint of an index error, said for the shell: with the user's own folders in place of the
placeholder DIR, and without the Python API's `rebuild=True` (the index code words it for both).

The folders are the DIRs of this command line or, where it has none (`search`), those the index
records: its file records are paths from the folder holding the index (places.py), read back in a
child process, since the index at fault may be damaged, and LanceDB may fail hard on a damaged one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from ..checkpoint.hub import local_folder_hint
from ..display import quoted
from ..local_index.folder import rebuild_hint
from ..local_index.places import HERE, key_under, shown_path
from ..local_index.reader import limits_first, memory_limit
from .parser import EMBEDDING_MODEL_VARIABLE, RERANKER_MODEL_VARIABLE

MODEL_OPTIONS = {
    "embedding": ("--embedding-model", EMBEDDING_MODEL_VARIABLE),
    "reranker": ("--reranker-model", RERANKER_MODEL_VARIABLE),
}
READ_SECONDS = 60  # how long the hint waits for the index's records before it keeps the placeholder
# The file records of the index at argv[2], one JSON list on stdout; written by id (`add_documents`) left out.
# Under the index reader's own limits: the index at fault may hold data nobody here wrote (reader.py).
READ_RECORDS = limits_first(3) + (
    "import json; sys.path[:] = json.loads(sys.argv[1])\n"
    "from qwen3_rag.local_index.store import IndexStore\n"
    "print(json.dumps([row['path'] for row in IndexStore.file_rows(sys.argv[2]) if not row.get('document')]))"
)


def for_the_shell(message: str, args: argparse.Namespace) -> str:
    """`message` with the core's advice worded for the shell: a local model folder named by this command
    line's options, and the rebuild hint for the index of `args` with the user's folders."""
    for kind, (option, variable) in MODEL_OPTIONS.items():
        shell_words = f"Pass a local {kind} checkpoint directory with {option} DIR (or ${variable}) instead"
        message = message.replace(local_folder_hint(kind), shell_words)
    return _rebuild_for_the_shell(message, args)


def _rebuild_for_the_shell(message: str, args: argparse.Namespace) -> str:
    index = getattr(args, "index", None)
    if index is None or rebuild_hint(Path(index)) not in message:
        return message
    folders = getattr(args, "dirs", None) or recorded_folders(_records(index) or [], index) or ["DIR"]
    shown = " ".join(folder if folder == "DIR" else quoted(folder) for folder in folders)
    return message.replace(rebuild_hint(Path(index)), rebuild_hint(Path(index), shown, python=False))


def recorded_folders(records: list[str], index: str) -> list[str]:
    """The folders that the file `records` of an index lie in, as the user would type them from here: for
    each first folder on a record's path (`docs` of `docs/api/a.md`, `../data` of `../data/b.md`), the
    deepest folder holding all of its records; the index's own base folder holds all but those outside it."""
    if any(os.path.isabs(record) for record in records):  # format 2: absolute paths, and document ids unmarked
        records = [record for record in records if os.path.isabs(record)]
    groups: dict[str, list[str]] = {}
    for record in records:
        folder = os.path.dirname(record) or HERE
        groups.setdefault(_first_folder(folder), []).append(folder)
    folders = {top: os.path.commonpath(inside) for top, inside in groups.items()}
    if HERE in folders:  # files right in the base folder: indexed from there, with what lies under it
        folders = {top: folder for top, folder in folders.items() if top == HERE or not key_under(top, HERE)}
    if os.sep in folders.values():  # `qwen3-rag index /` is never the advice: the placeholder stays
        return []
    return sorted(shown_path(folder, index) for folder in folders.values())


def _first_folder(folder: str) -> str:
    """The first folder named on a record's path, after the `..` that climb out of the base folder."""
    parts = folder.split(os.sep)
    if os.path.isabs(folder):  # a format-2 record: its first folder below the root
        return os.sep + parts[1]
    climbs = next((i for i, part in enumerate(parts) if part != ".."), len(parts) - 1)
    return os.sep.join(parts[: climbs + 1]) or os.sep


def _records(index: str) -> list[str] | None:
    """The index's file records, or None where they cannot be read (then the hint keeps its placeholder)."""
    try:
        read = subprocess.run(
            [sys.executable, "-c", READ_RECORDS, json.dumps(sys.path), index, str(memory_limit())],
            capture_output=True,
            text=True,
            timeout=READ_SECONDS,
            stdin=subprocess.DEVNULL,
        )
        records = json.loads(read.stdout) if read.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return records if isinstance(records, list) and all(isinstance(r, str) for r in records) else None
