"""`qwen3-rag models`: the known checkpoints (`registry.KNOWN_CHECKPOINTS`) as a table or JSON.

Only the registry is read: no torch, no download. Columns follow the registry's `Checkpoint` fields, so
a fact added there shows here too.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..display import escaped, json_text
from ..registry import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_RERANKER_MODEL,
    KNOWN_CHECKPOINTS,
    MIN_EMBEDDING_DIM,
    Checkpoint,
)


def run_models(args: argparse.Namespace) -> int:
    rows = [_row(name, checkpoint) for name, checkpoint in KNOWN_CHECKPOINTS.items()]
    print(json_text(rows) if args.json else _table(rows))
    return 0


def _row(name: str, checkpoint: Checkpoint) -> dict[str, Any]:
    """One checkpoint: its name, the registry's facts, the sizes --dim takes (embedding models only: a
    Matryoshka vector from MIN_EMBEDDING_DIM up to the hidden size) and whether it is the default."""
    facts = dataclasses.asdict(checkpoint)
    embedding = facts.get("kind") == "embedding"
    return {
        "name": name,
        **facts,
        "dims": [MIN_EMBEDDING_DIM, facts["hidden_size"]] if embedding else None,
        "default": name in (DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    cells = [[escaped(_cell(key, value)) for key, value in row.items()] for row in rows]
    header = [key.replace("_", " ") for key in rows[0]] if rows else []
    widths = [max(len(line[column]) for line in [header, *cells]) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    )


def _cell(key: str, value: object) -> str:
    if key == "dims":
        return "-" if not isinstance(value, list) else f"{value[0]}..{value[1]}"
    if key == "default":
        return "yes" if value else ""
    return str(value)
