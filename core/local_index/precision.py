"""What an index may store, and how many candidates a binary or float16 one rescores: constants the command
line reads without importing NumPy or LanceDB. How each precision stores and searches vectors: layouts.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INDEX_PRECISIONS = ("float32", "float16", "int8", "binary")
# A binary index recalls this many chunks per result asked for, then rescores them: on clustered
# vectors recall@10 is 0.29 at 4x and 0.93 at 50x (1M chunks; 12 vs 35 ms), bench/RESULTS.md.
DEFAULT_RESCORE = 50
# A float16 index's 1-bit RaBitQ estimate recalls this many chunks per result asked for, re-ranked on their
# float16 vectors (LanceDB's refine): recall@10 0.985-0.988 at 1M, 0.975 (uneven) and 0.902 (tidy) at 10M
# in 76-87 ms; 100x gives 0.957 at 10M in 64 ms (bench/RESULTS.md, issue 36).
FLOAT16_RESCORE = 200


def recorded_precision(settings: Mapping[str, Any]) -> str:
    """An index's precision from its recorded settings: float32 indexes record none (they predate the choice)."""
    return settings.get("precision", "float32")
