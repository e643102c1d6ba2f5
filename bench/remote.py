"""Remote engines against the in-process core, one run, one machine: vLLM (CPU) serving random 0.6B-shape
checkpoints, reached through `RemoteEmbedder`/`RemoteReranker`, against `Embedder`/`Reranker` on the same
weights; plus the client's overhead per request against a bare HTTP call with the same token ids.

Every round (warm-up and timed) has its own texts and query, the same for both systems: vLLM's
automatic prefix cache would otherwise answer repeated texts from cache. `bench/run.py` puts
vLLM-CPU in one table with the other systems; this script adds the client-overhead figure.

    make setup && .venv/bin/python bench/remote.py --out out/remote
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import torch
from report import cpu_name, save
from workload import INSTRUCTION, texts, write_checkpoints  # also puts tests/ on sys.path

from qwen3_rag import Embedder, RemoteEmbedder, RemoteReranker, Reranker
from qwen3_rag.kernels.runtime import cpu_runs_bf16_natively

vllm_servers = __import__("vllm_servers")  # tests/vllm_servers.py: how the tests start vLLM, reused as is


def timed(call, repeats: int) -> tuple[float, object]:
    """Median seconds of `call(1)` .. `call(repeats)` after the warm-up `call(0)`, and the last result;
    `call(i)` must run on inputs of its own (round i)."""
    call(0)
    seconds, result = [], None
    for round_ in range(1, repeats + 1):
        started = time.perf_counter()
        result = call(round_)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


@contextlib.contextmanager
def serving(model: Path, log: Path, *extra: str) -> Iterator[str]:
    server = vllm_servers.start(str(model), log, *extra, one_thread=False, memory_fraction=0.3)
    try:
        vllm_servers.wait_until_ready([server])
        yield server.url
    finally:
        vllm_servers.stop([server])


def client_overhead(url: str, embedder: RemoteEmbedder) -> dict[str, float]:
    """One short query through RemoteEmbedder against a bare POST of the same token ids (median of 20)."""
    ids = [embedder.tokenizer.encode("Instruct: Find it\nQuery:hello", add_special_tokens=False).ids + [151643]]
    payload = {"model": embedder.name, "input": ids, "encoding_format": "float"}
    with httpx.Client(timeout=120) as client:
        bare_s, _ = timed(lambda _: client.post(url + "/v1/embeddings", json=payload).json(), 20)
    # a repeated short text on purpose: this measures the client's cost per request, not the engine's
    client_s, _ = timed(lambda _: embedder.embed_queries(["hello"], instruction="Find it"), 20)
    return {
        "bare_http_ms": bare_s * 1e3,
        "remote_embedder_ms": client_s * 1e3,
        "overhead_ms": (client_s - bare_s) * 1e3,
    }


def max_difference(a: object, b: object) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--documents", type=int, default=24)
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qwen3-rag-remote-bench-"))
    models = write_checkpoints(root, torch.float32, "cpu", None)
    documents = [texts(args.documents, 20, 400, seed=1 + 100 * r) for r in range(args.repeats + 1)]
    candidates = [texts(args.candidates, 30, 300, seed=2 + 100 * r) for r in range(args.repeats + 1)]
    queries = [f"Which city hosted the national music season? ({r})" for r in range(args.repeats + 1)]
    rows = []

    # One server at a time, stopped before the in-process run: the machine has 2 cores and 24 GiB.
    with serving(models["embedding"], root / "embedding.log") as url:
        remote_embedder = RemoteEmbedder(url, instruction=INSTRUCTION)
        remote_s, remote_vectors = timed(lambda r: remote_embedder.embed_documents(documents[r]), args.repeats)
        overhead = client_overhead(url, remote_embedder)
    local_embedder = Embedder(str(models["embedding"]), device="cpu", instruction=INSTRUCTION)
    local_s, local_vectors = timed(lambda r: local_embedder.embed_documents(documents[r]), args.repeats)
    rows.append(("embed", args.documents, remote_s, local_s, max_difference(remote_vectors, local_vectors)))
    local_embedder = None  # frees its weights before the reranker loads

    with serving(models["reranker"], root / "reranker.log", *vllm_servers.reranker_arguments()) as url:
        remote_reranker = RemoteReranker(url, instruction=INSTRUCTION)
        remote_s, remote_logits = timed(lambda r: remote_reranker.logits(queries[r], candidates[r]), args.repeats)
    local_reranker = Reranker(str(models["reranker"]), device="cpu", instruction=INSTRUCTION)
    local_s, local_logits = timed(lambda r: local_reranker.logits(queries[r], candidates[r]), args.repeats)
    rows.append(("rerank", args.candidates, remote_s, local_s, max_difference(remote_logits, local_logits)))

    result = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "bf16_units": cpu_runs_bf16_natively(),
        "torch": torch.__version__,
        "rows": [dict(zip(("task", "items", "remote_s", "local_s", "max_abs_diff"), row, strict=True)) for row in rows],
        "overhead": overhead,
    }
    lines = [
        "| task | items | vLLM via Remote* (s) | in-process core (s) | core is N× faster | max abs diff |",
        "|---|---|---|---|---|---|",
    ]
    for task, items, remote_s, local_s, diff in rows:
        lines.append(f"| {task} | {items} | {remote_s:.2f} | {local_s:.2f} | {remote_s / local_s:.2f} | {diff:.1e} |")
    lines.append(
        f"\nClient overhead per request (median of 20): bare POST {overhead['bare_http_ms']:.1f} ms, "
        f"RemoteEmbedder {overhead['remote_embedder_ms']:.1f} ms, overhead {overhead['overhead_ms']:.1f} ms"
    )
    print(f"CPU: {result['cpu']} ({result['cores']} cores, bf16 units: {result['bf16_units']})")
    print("\n".join(lines))
    save(args.out, result, "\n".join(lines))


if __name__ == "__main__":
    main()
