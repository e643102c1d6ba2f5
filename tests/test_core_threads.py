"""The per-batch thread count: cores that other processes keep busy are left to them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import VARIED_TEXTS

from qwen3_rag.kernels import threads

BUSY_LOOP = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


@pytest.fixture
def busy_process():
    process = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


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


def test_our_own_threads_do_not_count_as_load():
    torch.set_num_threads(torch.get_num_threads())
    a = torch.randn(512, 512)
    for _ in range(3):
        a @ a  # torch's worker threads just ran (and may still spin)
    busy = threads.runnable_elsewhere()
    assert busy is not None and busy < 1 + len(os.sched_getaffinity(0))


def test_thread_setting_is_restored_and_never_raised(busy_process):
    setting = torch.get_num_threads()
    assert wait_for(lambda: (threads.runnable_elsewhere() or 0) >= 1)
    with threads.threads_for_load(torch.device("cpu")) as inside:
        assert 1 <= inside <= setting and torch.get_num_threads() == inside
    assert torch.get_num_threads() == setting
    with threads.threads_for_load(torch.device("cuda")) as untouched:  # only CPU passes are adapted
        assert untouched == setting == torch.get_num_threads()


def test_vectors_do_not_depend_on_the_thread_count(embedder):
    setting = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = embedder.embed_documents(VARIED_TEXTS)
    finally:
        torch.set_num_threads(setting)
    np.testing.assert_allclose(embedder.embed_documents(VARIED_TEXTS), single, atol=1e-6)


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
