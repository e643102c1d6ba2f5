"""What every benchmark records about its machine, and how it saves what it measured."""

from __future__ import annotations

import json
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name (figures from machines of one kind still differ by CPU generation)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def save(out: Path | None, results: dict, table: str) -> None:
    """results.json and table.md under `out`, when one was given."""
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(table if table.endswith("\n") else table + "\n")
