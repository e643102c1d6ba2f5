"""An index opened for searching in a helper process.

`qwen3-rag search` needs LanceDB and torch, and importing each takes about 1.5 s on a small CPU.
In one process the two imports run one after the other (both hold the GIL); here the helper
imports LanceDB and opens the index on another core while the command imports torch and loads
the models. The helper only reads, so ending it at any moment is safe.

It is also where LanceDB meets bytes that only a seal vouches for (an index accepted with `--trust`
holds data files nobody here wrote): a Rust panic, an abort or a runaway allocation in LanceDB ends or
fails the helper, never the command. The helper runs with at most `memory_limit()` bytes of data (a
32 GiB allocation fails there at once), without core dumps, its standard error kept in a file that the
command reads only to name what went wrong, and each of its answers must come within `ANSWER_SECONDS`.
Whatever happens becomes one line naming the index and the fix (`ReaderError`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from ..display import escaped, quoted, warning_printer
from ..errors import LocalIndexError, Qwen3RagError
from .advice import rebuild_hint, trust_call
from .folder import check_same_settings
from .search import Found

MAX_MEMORY_BYTES = 8 * 2**30  # the helper's data (heap and anonymous mappings), or the machine's memory if less
READ_BYTES_PER_SECOND = 50e6  # --trust's full read: a 40 GB index may take 800 s more than ANSWER_SECONDS
ANSWER_SECONDS = 300.0  # the longest the command waits for one answer: opening (hashing a copied index), a search
STDERR_TAIL = 16 * 1024  # what is read back of the helper's standard error, from its end


def limits_first(argument: int) -> str:
    """Source for `python -c` that caps the process's data at `sys.argv[argument]` bytes, with no core dumps."""
    return (
        "import resource, sys\n"
        f"for limit, wanted in ((resource.RLIMIT_DATA, int(sys.argv[{argument}])), (resource.RLIMIT_CORE, 0)):\n"
        "    hard = resource.getrlimit(limit)[1]\n"
        "    wanted = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)\n"
        "    resource.setrlimit(limit, (wanted, wanted))\n"
    )


# The helper's start: limits first (before anything is imported), deaf to Ctrl-C (the command handles
# it, then ends the helper), the command's import path, then `serve` on the socket it was handed. Not
# multiprocessing's spawn, which imports the caller's main script again (an unguarded script calling
# `main()` would run twice); not a fork, which would copy whatever threads torch started.
BOOT = limits_first(4) + (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "import json; sys.path[:] = json.loads(sys.argv[1]); "
    "from qwen3_rag.local_index.reader import serve; serve(int(sys.argv[2]), sys.argv[3], int(sys.argv[5]))"
)


def memory_limit() -> int:
    """The helper's data limit: `MAX_MEMORY_BYTES`, or the machine's memory where that is less."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        physical = MAX_MEMORY_BYTES
    return min(MAX_MEMORY_BYTES, physical if physical > 0 else MAX_MEMORY_BYTES)


class ReaderError(LocalIndexError):
    """The helper crashed, hit a limit or did not answer: `reason` says which, the message adds the fix."""

    def __init__(self, directory: Path, reason: str):
        self.directory, self.reason = directory, reason
        super().__init__(
            f"the index at {quoted(directory)} could not be read: {reason}; if this account built it, "
            f"{rebuild_hint()}; if it came from elsewhere, copy it again from a source you trust and "
            f"accept it with: {trust_call(directory)}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return ReaderError, (self.directory, self.reason)


class IndexReader:
    """`IndexStore.open(directory)` in a helper process: `settings`, `check_settings` and `search` as there."""

    def __init__(self, directory: str | os.PathLike[str]):
        self._directory = Path(directory)
        self._errors: IO[bytes] = tempfile.TemporaryFile(prefix="qwen3-rag-reader-")
        try:
            warnings_fd = os.dup(2)  # the command's standard error, for the helper's Python warnings
        except OSError:
            warnings_fd = os.open(os.devnull, os.O_WRONLY)
        ours, theirs = socket.socketpair()
        with ours, theirs:
            try:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        BOOT,
                        json.dumps(sys.path),
                        str(theirs.fileno()),
                        os.fspath(directory),
                        str(memory_limit()),
                        str(warnings_fd),
                    ],
                    pass_fds=[theirs.fileno(), warnings_fd],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=self._errors,
                )
            finally:
                os.close(warnings_fd)
            self._connection = Connection(ours.detach())
        self._settings: dict[str, Any] | None = None
        self._opening_error: Exception | None = None

    @property
    def pid(self) -> int | None:
        """The helper's process id (None once it has been reaped)."""
        return self._process.pid if self._process.returncode is None else None

    @property
    def settings(self) -> dict[str, Any]:
        """The index's settings; waits for the helper to open the index, and raises what opening raised."""
        return self._opened()

    def _opened(self) -> dict[str, Any]:
        if self._opening_error is not None:
            raise self._opening_error
        if self._settings is None:
            try:
                self._settings = self._answer()  # the helper's first answer
            except Exception as error:
                self._opening_error = error
                raise
        return self._settings

    def check_settings(self, wanted: Mapping[str, Any]) -> None:
        """As `IndexStore.check_settings`: the settings are here already, so no call to the helper."""
        check_same_settings(self._directory, self._opened(), wanted)

    def search(
        self, query: NDArray[np.float32], top_n: int, text: str | None = None, rescore: int | None = None
    ) -> Found:
        found: Found = self._ask(("search", query, top_n, text, rescore))
        return found

    def read_all(self) -> int:
        """Have the helper read every row of the index and answer a search (`IndexStore.read_all`); it may
        take `ANSWER_SECONDS` plus a second per `READ_BYTES_PER_SECOND` of the index on disk."""
        size = sum(f.stat(follow_symlinks=False).st_size for f in self._directory.rglob("*") if f.is_file())
        rows: int = self._ask(("read_all",), ANSWER_SECONDS + size / READ_BYTES_PER_SECOND)
        return rows

    def close(self) -> None:
        self._connection.close()
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait()
        self._errors.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ask(self, request: tuple[Any, ...], seconds: float | None = None) -> Any:
        self._opened()  # requests go to an open index; this raises why it did not open
        try:
            self._connection.send(request)
        except OSError:  # a broken pipe here is the helper's, not the user's stdout
            raise self._stopped() from None
        return self._answer(seconds)

    def _answer(self, seconds: float | None = None) -> Any:
        seconds = ANSWER_SECONDS if seconds is None else seconds
        try:
            if not self._connection.poll(seconds):
                self._process.kill()
                raise self._stopped(f"it did not answer within {seconds:g} s (ended)")
            failed, value = self._connection.recv()
        except (EOFError, OSError):
            raise self._stopped() from None
        if failed:
            raise value
        return value

    def _stopped(self, why: str | None = None) -> ReaderError:
        try:
            code: int | None = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if why is None:
            why = f"the index reader stopped unexpectedly (exit code {code}){_signal_name(code)}"
            said = _what_lancedb_said(self._errors)
            if said:
                why += f"; LanceDB said: {said}"
        return ReaderError(self._directory, why)


def read_everything(directory: Path) -> int:
    """Open the index in a helper and read all of it there (see `IndexStore.read_all`); the rows read."""
    with IndexReader(directory) as reader:
        return reader.read_all()


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return ""
    try:
        return f", killed by {signal.Signals(-code).name}"
    except ValueError:
        return ""


PANIC = re.compile(r"panicked at [^\n]*:\n(?P<message>[^\n]+)")
ALLOCATION = re.compile(r"memory allocation of \d+ bytes failed")


def _what_lancedb_said(errors: IO[bytes]) -> str:
    """The one telling line of what the helper wrote to standard error: a failed allocation, a Rust
    panic's message, or a Python error's last line."""
    try:
        size = errors.seek(0, os.SEEK_END)
        errors.seek(max(0, size - STDERR_TAIL))
        text = errors.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""
    for pattern in (ALLOCATION, PANIC):
        found = list(pattern.finditer(text))
        if found:
            match = found[-1]
            return escaped((match.group("message") if "message" in pattern.groupindex else match.group(0))[:200])
    lines = [line for line in text.splitlines() if line.strip()]
    return escaped(lines[-1][:200]) if lines else ""


def serve(fd: int, directory: str, warnings_fd: int) -> None:
    """The helper's loop on socket `fd`: open the index, send its settings, then answer requests until
    the command closes its end. Python warnings go to the command's standard error (`warnings_fd`); what
    else is written to standard error (LanceDB's panics and logs) stays in the helper's file."""
    shown = os.fdopen(warnings_fd, "w", buffering=1)

    warnings.showwarning = warning_printer(lambda: shown)  # to the command's standard error
    connection = Connection(fd)
    from .store import IndexStore

    try:
        store = IndexStore.open(directory)
    except Exception as error:  # noqa: BLE001 - every failure goes back to the command, which reports it
        connection.send((True, _portable(error, directory)))
        return
    connection.send((False, dict(store.settings)))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        try:
            if request[0] == "search":
                answer: Any = store.search(*request[1:])
            else:
                answer = store.read_all()
            connection.send((False, answer))
        except Exception as error:  # noqa: BLE001
            connection.send((True, _portable(error, directory)))
        except BaseException as error:  # pyo3's PanicException: reported, then the helper ends
            connection.send((True, _portable(error, directory)))
            return


def _portable(error: BaseException, directory: str) -> Exception:
    """What goes back to the command: qwen3-rag's own errors as they are; anything else (LanceDB's
    `RustPanic`, an error of a kind qwen3-rag does not expect from it) as a `ReaderError` naming it."""
    from pickle import PicklingError, dumps, loads

    if isinstance(error, Qwen3RagError):
        try:
            loads(dumps(error))
        except (PicklingError, TypeError, AttributeError, ValueError):
            return LocalIndexError(f"{type(error).__name__}: {error}")
        return error
    lines = str(error).strip().splitlines()
    said = f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__
    return ReaderError(Path(directory), f"LanceDB failed on it ({escaped(said)})")
