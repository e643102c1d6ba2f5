"""How many threads a CPU forward pass should use now: the cores no other process is running on.

Every matrix product ends at a barrier, so one thread that shares its core with another busy
process holds up all the others: on the 2-core machines of this project, a second CPU-bound
process slowed a 2-thread pass 2.2-3.7x (bench/RESULTS.md), while a 1-thread pass kept its speed.
The kernel state says how many threads are runnable right now (/proc/loadavg, /proc/self/task),
so each batch can take only the cores that are free. It never uses more than torch's own setting.

A float32 vector must not depend on the load: the count may follow it because MKL's strict
reproducible mode (asked for by `import qwen3_rag`) gives the same bits on any thread count, and the
int8 mode's integer sums are exact. Should MKL have started before that, `products_ignore_thread_count`
says so and float32 passes keep torch's setting. bf16 passes (and fp16 ones, the other tolerance
dtype) follow the load anyway: oneDNN splits their long sums between threads, and bf16 vectors differ
by up to 2.4e-3 between thread counts, inside bf16's stated tolerance, where keeping every thread made
a pass 3.1x slower beside one busy process (bench/thread_invariance.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import torch


def runnable_elsewhere() -> int | None:
    """Threads of other processes that are running or ready to run now; None where Linux's files are absent."""
    try:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            runnable = int(loadavg.read().split()[3].split("/")[0])
        return max(0, runnable - _own_runnable_threads())
    except (OSError, ValueError, IndexError):
        return None


def _own_runnable_threads() -> int:
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat", encoding="ascii", errors="replace") as stat:
                state = stat.read().rpartition(")")[2].split()[0]  # the name before ")" may hold spaces
        except (OSError, IndexError):
            continue  # a thread that ended meanwhile
        count += state == "R"
    return count


def free_threads(limit: int | None = None) -> int:
    """Threads for the next pass: `limit` (torch's setting) less the cores other processes keep busy, at least 1.

    Only where this process may run on every CPU of the machine: /proc/loadavg counts the whole
    machine's threads, so in a container limited to a few of its CPUs it would say nothing useful.
    """
    limit = torch.get_num_threads() if limit is None else limit
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores != os.cpu_count():
        return limit
    busy = runnable_elsewhere()
    return limit if busy is None else max(1, min(limit, cores - busy))


_lock = threading.Lock()
_passes = 0  # passes running now, in any thread
_setting = 0  # torch's thread count before the first of them lowered it
_probed: dict[int, bool] = {}  # whether float32 products are thread-invariant, by torch's thread setting


# Products whose sum MKL splits between threads at some thread counts unless its strict mode is on
# (found by trying shapes on a 2-core Xeon): rows of short texts, the 0.6B model's hidden and MLP widths.
_PROBE_SHAPES = ((32, 1024, 1024), (64, 3072, 1024))


def products_ignore_thread_count(dtype: torch.dtype, setting: int) -> bool:
    """Whether matrix products in `dtype` give the same bits on 1 to `setting` threads, tried now: it sets
    torch's thread count meanwhile, so `threads_for_load` runs it while no other pass does, and keeps the
    answer in `_probed`."""
    if setting == 1:
        return True
    generator = torch.Generator().manual_seed(0)
    try:
        for rows, inner, outer in _PROBE_SHAPES:
            a = torch.randn(rows, inner, generator=generator).to(dtype)
            b = torch.randn(outer, inner, generator=generator).to(dtype)
            products = []
            for count in range(1, setting + 1):
                torch.set_num_threads(count)
                products.append(torch.nn.functional.linear(a, b))
            if not all(torch.equal(products[0], other) for other in products[1:]):
                return False
        return True
    finally:
        torch.set_num_threads(setting)


@contextlib.contextmanager
def threads_for_load(device: torch.device, dtype: torch.dtype = torch.float32) -> Iterator[int]:
    """Run the block with `free_threads()` torch threads on CPU; a no-op elsewhere, and for float32
    passes where fewer threads would round differently.

    torch keeps the count per thread and process-wide, and passes of two models may overlap in two
    threads: the setting is read when the first pass starts (not from a count another pass lowered),
    and each pass puts it back in its own thread when it ends.
    """
    global _passes, _setting
    if device.type != "cpu":
        yield torch.get_num_threads()
        return
    with _lock:
        if _passes == 0:
            _setting = torch.get_num_threads()
        _passes += 1
        setting = _setting
        # The probe sets torch's thread count while it runs: only under the lock, and only while no other
        # pass runs (MKL's count is the process's); until it has run, a float32 pass keeps the setting.
        if dtype == torch.float32 and setting not in _probed and _passes == 1:
            _probed[setting] = products_ignore_thread_count(torch.float32, setting)
        steady = dtype == torch.float32 and not _probed.get(setting, False)
    try:
        threads = setting if steady else free_threads(setting)
        torch.set_num_threads(threads)
        yield threads
    finally:
        torch.set_num_threads(setting)
        with _lock:
            _passes -= 1
