"""The per-batch thread count: cores that other processes keep busy are left to them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import VARIED_TEXTS

from qwen3_rag import Embedder
from qwen3_rag.kernels import threads

TWO_CORES = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: one thread count only")


def wait_for(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_busy_process_elsewhere_is_seen_and_its_core_left_to_it(busy_process):
    assert wait_for(lambda: (threads.runnable_elsewhere() or 0) >= 1)
    cores = len(os.sched_getaffinity(0))
    assert wait_for(lambda: threads.free_threads(cores) <= cores - 1 or cores == 1)
    assert threads.free_threads(1) == 1  # never fewer than one, never more than the limit


def runnable_in_other_processes() -> int:
    """Threads of other processes running or ready now, read task by task from /proc."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/task/*/stat"):
        try:
            text = stat.read_text(errors="replace")
        except OSError:
            continue  # ended meanwhile
        count += stat.parts[2] != str(os.getpid()) and text.rpartition(")")[2].split()[0] == "R"
    return count


def test_our_own_threads_do_not_count_as_load():
    torch.set_num_threads(torch.get_num_threads())
    a = torch.randn(512, 512)

    def counted_alike() -> bool:
        for _ in range(3):
            a @ a  # torch's worker threads just ran (and may still spin)
        # Other processes come and go (a busy machine runs the suite too): the two counts are read a
        # moment apart, so only a surplus of this process's own threads, again and again, fails.
        return threads.runnable_elsewhere() <= runnable_in_other_processes() + 1

    assert wait_for(counted_alike)


def test_thread_setting_is_restored_and_never_raised(busy_process):
    setting = torch.get_num_threads()
    assert wait_for(lambda: (threads.runnable_elsewhere() or 0) >= 1)
    with threads.threads_for_load(torch.device("cpu")) as inside:
        assert 1 <= inside <= setting and torch.get_num_threads() == inside
    assert torch.get_num_threads() == setting
    with threads.threads_for_load(torch.device("cuda")) as untouched:  # only CPU passes are adapted
        assert untouched == setting == torch.get_num_threads()


@pytest.mark.parametrize("dtype", ["float32", "int8"])  # int8: integer sums, and bf16 attention where it runs
def test_vectors_do_not_depend_on_the_thread_count(tiny_models, dtype):
    embedder = Embedder(tiny_models.embedding, device="cpu", dtype=dtype)
    setting = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = embedder.embed_documents(VARIED_TEXTS)
    finally:
        torch.set_num_threads(setting)
    np.testing.assert_array_equal(embedder.embed_documents(VARIED_TEXTS), single)


# In a fresh process: whether MKL runs in its strict mode is fixed by its first product.
PRODUCTS = """
import json, sys, torch
if sys.argv[1] == "product first":
    torch.randn(4, 4) @ torch.randn(4, 4)
import qwen3_rag
from qwen3_rag.kernels import threads
threads.free_threads = lambda limit=None: 1  # as if another process held every core but one
a, b = torch.randn(32, 1024), torch.randn(1024, 1024)
products = []
for count in (1, 2):
    torch.set_num_threads(count)
    products.append(a @ b.T)
torch.set_num_threads(2)
with threads.threads_for_load(torch.device("cpu"), torch.float32) as float32_threads:
    pass
with threads.threads_for_load(torch.device("cpu"), torch.bfloat16) as bfloat16_threads:
    pass
print(json.dumps({
    "invariant": threads.products_ignore_thread_count(torch.float32, 2),
    "equal": torch.equal(*products),
    "float32 threads": float32_threads,
    "bfloat16 threads": bfloat16_threads,
}))
"""


def products_in_a_fresh_process(order: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key != "MKL_CBWR"}
    run = subprocess.run(
        [sys.executable, "-c", PRODUCTS, order], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(run.stdout)


@TWO_CORES
def test_importing_qwen3_rag_first_makes_float32_products_thread_invariant():
    """MKL splits a (32 x 1024) @ (1024 x 1024) sum between two threads unless its strict mode is on."""
    assert products_in_a_fresh_process("import first") == {
        "invariant": True,
        "equal": True,
        "float32 threads": 1,  # the load is followed: no thread count changes a float32 vector
        "bfloat16 threads": 1,  # bf16 follows it too, within its stated tolerance
    }


@TWO_CORES
def test_float32_passes_keep_their_threads_when_mkl_started_first():
    seen = products_in_a_fresh_process("product first")
    assert seen["invariant"] == seen["equal"]  # the probe sees what comparing the products shows
    # Where MKL's default splits sums by thread count (a Xeon does), float32 keeps its two threads.
    assert seen["float32 threads"] == (1 if seen["invariant"] else 2) and seen["bfloat16 threads"] == 1


def test_overlapping_passes_in_two_threads_leave_the_setting_as_it_was(busy_process):
    import threading as _threading

    setting = torch.get_num_threads()
    assert wait_for(lambda: (threads.runnable_elsewhere() or 0) >= 1)
    first_in, second_done = _threading.Event(), _threading.Event()

    def first() -> None:
        with threads.threads_for_load(torch.device("cpu")):
            first_in.set()
            second_done.wait(10)

    worker = _threading.Thread(target=first)
    worker.start()
    first_in.wait(10)
    with threads.threads_for_load(torch.device("cpu")) as inside:
        assert 1 <= inside <= setting
    second_done.set()
    worker.join()
    assert torch.get_num_threads() == setting
