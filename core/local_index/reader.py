"""An index opened for searching in a helper process.

`qwen3-rag search` needs LanceDB and torch, and importing each takes about 1.5 s on a small CPU.
In one process the two imports run one after the other (both hold the GIL); here the helper
imports LanceDB and opens the index on another core while the command imports torch and loads
the models. The helper only reads, so ending it at any moment is safe.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..display import show_warning
from ..errors import LocalIndexError
from .folder import check_same_settings
from .search import Found

# The helper's start: deaf to Ctrl-C (the command handles it, then ends the helper), the command's
# import path, then `serve` on the socket it was handed. Not multiprocessing's spawn, which imports
# the caller's main script again (an unguarded script calling `main()` would run twice); not a
# fork, which would copy whatever threads torch started.
BOOT = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from qwen3_rag.local_index.reader import serve; serve(int(sys.argv[2]), sys.argv[3])"
)


class IndexReader:
    """`IndexStore.open(directory)` in a helper process: `settings`, `check_settings` and `search` as there."""

    def __init__(self, directory: str | os.PathLike[str]):
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", BOOT, json.dumps(sys.path), str(theirs.fileno()), os.fspath(directory)],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            self._connection = Connection(ours.detach())
        self._directory = Path(directory)
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
        self._opened()  # searches go to an open index; this raises why it did not open
        try:
            self._connection.send((query, top_n, text, rescore))
        except OSError:  # a broken pipe here is the helper's, not the user's stdout
            raise self._stopped() from None
        found: Found = self._answer()
        return found

    def close(self) -> None:
        self._connection.close()
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _answer(self) -> Any:
        try:
            failed, value = self._connection.recv()
        except (EOFError, OSError):
            raise self._stopped() from None
        if failed:
            raise value
        return value

    def _stopped(self) -> LocalIndexError:
        try:
            code: int | None = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return LocalIndexError(f"the index reader stopped unexpectedly (exit code {code})")


def serve(fd: int, directory: str) -> None:
    """The helper's loop on socket `fd`: open the index, send its settings, then answer searches until
    the command closes its end."""
    warnings.showwarning = show_warning
    connection = Connection(fd)
    from .store import IndexStore

    try:
        store = IndexStore.open(directory)
    except Exception as error:  # noqa: BLE001 - every failure goes back to the command, which reports it
        connection.send((True, _portable(error)))
        return
    connection.send((False, dict(store.settings)))
    while True:
        try:
            query, top_n, text, rescore = connection.recv()
        except EOFError:
            return
        try:
            connection.send((False, store.search(query, top_n, text, rescore)))
        except Exception as error:  # noqa: BLE001
            connection.send((True, _portable(error)))


def _portable(error: Exception) -> Exception:
    """`error` if it survives the trip to the command; else a LocalIndexError with its type and message."""
    from pickle import PicklingError, dumps, loads

    try:
        loads(dumps(error))
    except (PicklingError, TypeError, AttributeError, ValueError):
        return LocalIndexError(f"{type(error).__name__}: {error}")
    return error
