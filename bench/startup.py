"""Start-up time of the command line: `qwen3-rag search` on an index of tiny models, from a cold process.

Each run is a new process, as a user's would be. The direct loader (the default) alternates with
QWEN3_RAG_LOADER=transformers, which loads the same checkpoints through transformers as every
version before it did; then the floor: what the imports and tokenizer files alone cost.

    make setup && .venv/bin/python bench/startup.py --out out/startup
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

COMMAND = str(Path(sys.executable).with_name("qwen3-rag"))
FLOOR = {
    "python alone": "pass",
    "import torch": "import torch",
    "import lancedb": "import lancedb",
    "import torch, lancedb": "import torch, lancedb",
    "two tokenizer.json files (tokenizers)": "import sys, tokenizers; [tokenizers.Tokenizer.from_file(p) for p in "
                                             "sys.argv[1:]]",
}


def seconds(argv: list[str], cwd: Path, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qwen3-rag-startup-bench-"))
    embedding, reranker = write_embedding_model(root / "embedding"), write_reranker_model(root / "reranker")
    folder = root / "notes"
    folder.mkdir()
    for i in range(20):
        (folder / f"note{i}.md").write_text(f"# Topic {i}\nThis note is about topic {i} and apples {i}.\n")
    quiet = {**os.environ, "QWEN3_RAG_LOADER": "auto"}
    subprocess.run([COMMAND, "index", ".", "--embedding-model", str(embedding), "--reranker-model", str(reranker),
                    "-q"], cwd=folder, env=quiet, check=True)

    commands = {"search": [COMMAND, "search", "topic 3", "-q"],
                "search --no-rerank": [COMMAND, "search", "topic 3", "--no-rerank", "-q"]}
    times: dict[str, dict[str, list[float]]] = {name: {"direct": [], "transformers": []} for name in commands}
    for _ in range(args.repeats):  # alternating, so that a slow minute of the machine hits both alike
        for name, argv in commands.items():
            for loader in ("direct", "transformers"):
                environment = {**os.environ, "QWEN3_RAG_LOADER": "auto" if loader == "direct" else "transformers"}
                times[name][loader].append(seconds(argv, folder, environment))
    tokenizer_files = [str(embedding / "tokenizer.json"), str(reranker / "tokenizer.json")]
    floor = {name: statistics.median(seconds([sys.executable, "-c", code, *tokenizer_files], folder, dict(os.environ))
                                     for _ in range(args.repeats)) for name, code in FLOOR.items()}

    medians = {name: {loader: statistics.median(runs) for loader, runs in by_loader.items()}
               for name, by_loader in times.items()}
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "repeats": args.repeats, "times_s": times,
              "median_s": medians, "floor_median_s": floor}
    lines = ["| command | direct loader (s) | through transformers (s) | saved |", "|---|---|---|---|"]
    for name, median in medians.items():
        lines.append(f"| `qwen3-rag {name}` | {median['direct']:.2f} | {median['transformers']:.2f} | "
                     f"{1 - median['direct'] / median['transformers']:.0%} |")
    lines += ["", "| floor: a process that only does this | median (s) |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in floor.items()]
    print(f"CPU: {result['cpu']} ({result['cores']} cores), median of {args.repeats} cold runs")
    print("\n".join(lines))
    save(args.out, result, "\n".join(lines))


if __name__ == "__main__":
    main()
