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


# The flags that decide which kernels a CPU can run (fp32 FMA width, int8 dot products, bf16 units).
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    """Which of KERNEL_FLAGS this CPU reports."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    present = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            present.update(line.split(":", 1)[1].split())
    return [flag for flag in KERNEL_FLAGS if flag in present]


def save(out: Path | None, results: dict, table: str) -> None:
    """results.json and table.md under `out`, when one was given."""
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(table if table.endswith("\n") else table + "\n")
