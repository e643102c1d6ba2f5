"""Start-up time of the command line, from a cold process, on the tests' tiny checkpoints.

Each run is a new process, as a user's would be. The commands run with this tree's code, and,
given `--baseline DIR` (a checkout of an earlier commit), with that code too, alternating run by
run so that a slow minute of the machine hits both alike. `QWEN3_RAG_LOADER=transformers` is a
third variant: the checkpoints loaded through transformers, as before the direct loader. Then
the floor: what the imports and tokenizer files alone cost.

    make setup && .venv/bin/python bench/startup.py --out out/startup
    git worktree add /tmp/base <commit> && .venv/bin/python bench/startup.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workload  # noqa: F401 - puts tests/ on sys.path
from report import cpu_name, save
from tiny_qwen3 import write_embedding_model, write_reranker_model

COMMAND = [sys.executable, "-m", "qwen3_rag"]  # what the console script runs, in this tree and in the baseline
FLOOR = {
    "python alone": "pass",
    "import torch": "import torch",
    "import lancedb": "import lancedb",
    "import torch, lancedb": "import torch, lancedb",
    "import torch; two tokenizer.json files": "import sys, torch, tokenizers; "
    "[tokenizers.Tokenizer.from_file(p) for p in sys.argv[1:]]",
    "two tokenizer.json files (tokenizers)": "import sys, tokenizers; [tokenizers.Tokenizer.from_file(p) for p in "
    "sys.argv[1:]]",
}


def seconds(argv: list[str], cwd: Path, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def variants(baseline: Path | None, root: Path) -> dict[str, dict[str, str]]:
    """Environments: this tree, this tree through transformers, and the baseline's code on PYTHONPATH."""
    found = {
        "this tree": {**os.environ, "QWEN3_RAG_LOADER": "auto"},
        "through transformers": {**os.environ, "QWEN3_RAG_LOADER": "transformers"},
    }
    if baseline is not None:
        (root / "baseline").mkdir()
        (root / "baseline" / "qwen3_rag").symlink_to(baseline.resolve() / "core")  # ahead of the editable install
        found["baseline"] = {**os.environ, "QWEN3_RAG_LOADER": "auto", "PYTHONPATH": str(root / "baseline")}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout of the commit to compare with")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qwen3-rag-startup-bench-"))
    embedding, reranker = write_embedding_model(root / "embedding"), write_reranker_model(root / "reranker")
    folder = root / "notes"
    folder.mkdir()
    for i in range(20):
        (folder / f"note{i}.md").write_text(f"# Topic {i}\nThis note is about topic {i} and apples {i}.\n")
    (root / "lines.txt").write_text("topic 3\n")
    environments = variants(args.baseline, root)
    subprocess.run(
        [*COMMAND, "index", ".", "--embedding-model", str(embedding), "--reranker-model", str(reranker), "-q"],
        cwd=folder,
        env=environments["this tree"],
        check=True,
    )

    commands = {
        "--help": [*COMMAND, "--help"],
        "embed (one line)": [*COMMAND, "embed", str(root / "lines.txt"), "--embedding-model", str(embedding), "-q"],
        "search": [*COMMAND, "search", "topic 3", "-q"],
        "search --no-rerank": [*COMMAND, "search", "topic 3", "--no-rerank", "-q"],
    }
    times: dict[str, dict[str, list[float]]] = {name: {variant: [] for variant in environments} for name in commands}
    for _ in range(args.repeats):
        for name, argv in commands.items():
            for variant, environment in environments.items():
                times[name][variant].append(seconds(argv, folder, environment))
    tokenizer_files = [str(embedding / "tokenizer.json"), str(reranker / "tokenizer.json")]
    floor = {
        name: statistics.median(
            seconds([sys.executable, "-c", code, *tokenizer_files], folder, dict(os.environ))
            for _ in range(args.repeats)
        )
        for name, code in FLOOR.items()
    }

    medians = {
        name: {variant: statistics.median(runs) for variant, runs in by_variant.items()}
        for name, by_variant in times.items()
    }
    result = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "repeats": args.repeats,
        "baseline": str(args.baseline) if args.baseline else None,
        "times_s": times,
        "median_s": medians,
        "floor_median_s": floor,
    }
    names = list(environments)
    lines = ["| command | " + " | ".join(f"{v} (s)" for v in names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, median in medians.items():
        lines.append(f"| `qwen3-rag {name}` | " + " | ".join(f"{median[v]:.2f}" for v in names) + " |")
    lines += ["", "| floor: a process that only does this | median (s) |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in floor.items()]
    print(f"CPU: {result['cpu']} ({result['cores']} cores), median of {args.repeats} cold runs")
    print("\n".join(lines))
    save(args.out, result, "\n".join(lines))


if __name__ == "__main__":
    main()
