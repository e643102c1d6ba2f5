"""What an index may store, and how many candidates a binary one rescores: constants the command line
reads without importing NumPy or LanceDB. How each precision stores and searches vectors: layouts.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INDEX_PRECISIONS = ("float32", "float16", "int8", "binary")
# A binary index recalls this many chunks per result asked for, then rescores them: on clustered
# vectors recall@10 is 0.29 at 4x and 0.93 at 50x (1M chunks; 12 vs 35 ms), bench/RESULTS.md.
DEFAULT_RESCORE = 50


def recorded_precision(settings: Mapping[str, Any]) -> str:
    """An index's precision from its recorded settings: float32 indexes record none (they predate the choice)."""
    return settings.get("precision", "float32")
