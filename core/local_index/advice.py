"""What an index error advises, worded for Python: the command line words each fix for the shell
(`cli/hints.py` replaces these exact phrases), so no command-line words live in the index code."""

from __future__ import annotations

import os

from ..display import quoted


def rebuild_hint() -> str:
    """Start the index anew (Ray's `write_index`, `IndexStore.create_or_open` and the index runs take it)."""
    return "rebuild it (rebuild=True)"


def trust_call(directory: str | os.PathLike[str]) -> str:
    """Accept an index this account did not seal, once the user trusts where it came from."""
    return f"IndexStore.trust({quoted(directory)})"


def build_hint() -> str:
    """There is no index yet: what builds one."""
    return "build one first (qwen3_rag.local_index.update_index, or Ray's write_index)"


def update_hint() -> str:
    """Bring the index up to date again: finishes or rolls back an interrupted run, upgrades an old format."""
    return "update it again (update_index, or Ray's write_index)"


def vector_only_hint() -> str:
    """Search without the full-text half of a hybrid search."""
    return "search by vector alone (no text query)"
