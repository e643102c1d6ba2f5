"""How an index names the files it holds: by their path from the folder that holds the index.

An index in `project/.qwen3-rag` records `project/docs/a.md` as `docs/a.md`, so the index and its
folder can move or be copied together and nothing recorded says where they were (no home folder,
no machine). A folder outside the index's own is recorded as a relative path too (`../data/a.md`).
Records are strings from disk: they are compared and shown, never opened; a record whose file may
have moved away is probed for its status only, one folder at a time without following links.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = "."


def index_base(index_dir: str | os.PathLike[str]) -> str:
    """The folder an index's file records are relative to: the one holding the index folder, links resolved
    (the walk's roots are resolved too, and `os.getcwd()` is)."""
    return os.path.realpath(os.path.dirname(os.path.abspath(index_dir)))


def file_key(path: str | os.PathLike[str], base: str) -> str:
    """The record of the file at `path` (absolute, links resolved) in an index whose base is `base`."""
    return os.path.relpath(os.fspath(path), base)


def key_under(key: str, root_key: str) -> bool:
    """Whether the file recorded as `key` lies under the folder recorded as `root_key` (strings only): the
    root's parts start the key's, and what follows does not climb out again (`../..` is not under `..`)."""
    if os.path.isabs(key) or os.path.isabs(root_key):
        return False
    parts = [] if root_key == HERE else root_key.split(os.sep)
    inside = key.split(os.sep)
    return inside[: len(parts)] == parts and (len(inside) == len(parts) or inside[len(parts)] != "..")


def shown_path(key: str, index_dir: str | os.PathLike[str]) -> str:
    """A file record as the user would type it from the working folder: relative to it when the file lies
    under it, else absolute. An index written before records were relative holds absolute paths, shown alike."""
    full = os.path.normpath(os.path.join(index_base(index_dir), key))
    try:
        relative = os.path.relpath(full)
    except ValueError:  # not a path this platform can relate (a damaged or planted record)
        return full
    return full if relative == ".." or relative.startswith(".." + os.sep) else relative


def root_keys(roots: list[Path], base: str) -> list[str]:
    return [file_key(root, base) for root in roots]
