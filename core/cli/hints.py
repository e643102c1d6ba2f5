"""The core's advice, said for the shell. The core words each fix for Python (`local_index/advice.py`,
`checkpoint/hub.py`, `checkpoint/identity.py`); here each phrase becomes the command line that does it,
and the rebuild command names the user's own folders in place of the placeholder DIR.

The folders are the DIRs of this command line or, where it has none (`search`), those the index
records: its file records are paths from the folder holding the index (places.py), read back in a
child process, since the index at fault may be damaged, and LanceDB may fail hard on a damaged one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from ..checkpoint.hub import local_folder_hint
from ..checkpoint.identity import role_hint
from ..display import quoted
from ..local_index.advice import build_hint, rebuild_hint, update_hint, vector_only_hint
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


TRUST_CALL = re.compile(r"IndexStore\.trust\(('.*?')\)")  # advice.trust_call, its folder quoted


def for_the_shell(message: str, args: argparse.Namespace) -> str:
    """`message` with the core's advice worded for the shell: a model named by this command line's options,
    and each index fix as the `qwen3-rag` command that does it (a rebuild with the user's folders)."""
    for kind, (option, variable) in MODEL_OPTIONS.items():
        shell_words = f"Pass a local {kind} checkpoint directory with {option} DIR (or ${variable}) instead"
        message = message.replace(local_folder_hint(kind), shell_words)
        message = message.replace(role_hint(kind), f"give it as {option}")
    message = TRUST_CALL.sub(lambda call: f"qwen3-rag index --index {call.group(1)} --trust", message)
    message = message.replace(update_hint(), "run qwen3-rag index on it again")
    message = message.replace(vector_only_hint(), "search without --hybrid")
    index = getattr(args, "index", None)
    if index is None:
        return message
    message = message.replace(build_hint(), f"build one with: qwen3-rag index DIR --index {quoted(Path(index))}")
    return _rebuild_for_the_shell(message, index, args)


def _rebuild_for_the_shell(message: str, index: str, args: argparse.Namespace) -> str:
    if rebuild_hint() not in message:
        return message
    folders = getattr(args, "dirs", None) or recorded_folders(_records(index) or [], index) or ["DIR"]
    shown = " ".join(folder if folder == "DIR" else quoted(folder) for folder in folders)
    command = f"qwen3-rag index {shown} --index {quoted(Path(index))} --rebuild"
    return message.replace(rebuild_hint(), f"rebuild it with: {command}")


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
