"""`qwen3-rag` (also `python -m qwen3_rag`): index, search, embed, rerank, eval and models from a shell.

One module per command, imported when it runs, once `checks.py` has refused what needs no model;
models come from `common.py` (in-process, or served with --embedding-url / --reranker-url). May
import anything in the core; nothing imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import NoReturn

from ..display import escaped, show_warning
from ..errors import Qwen3RagError
from .parser import parse

EXPECTED_ERRORS = (Qwen3RagError, OSError, ValueError)  # the user's to fix: no traceback needed
# Each command's module, imported only when it runs: torch and LanceDB take seconds to import, and
# `--help`, a usage error or `embed` (no LanceDB) need not wait for what they do not use.
COMMAND_MODULES = {
    "index": "index_command",
    "search": "search_command",
    "embed": "stream_commands",
    "rerank": "stream_commands",
    "eval": "eval_command",
    "models": "models_command",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors become one line on stderr and a non-zero exit status."""
    args = parse(argv)
    # LanceDB's engine logs warnings (empty IVF partitions, k-means and HNSW notes, by the thousand while an
    # index builds) straight to stderr; the command line reports problems itself. LanceDB reads LANCEDB_LOG,
    # its Lance engine LANCE_LOG; set before a command imports LanceDB, and the user's own values win.
    for variable in ("LANCEDB_LOG", "LANCE_LOG"):
        os.environ.setdefault(variable, "error")
    if args.quiet:
        from huggingface_hub.utils import disable_progress_bars

        # Download bars, and transformers' "Loading weights" bar, which reads this setting when imported
        # (later, and only for checkpoints loaded through transformers).
        disable_progress_bars()
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            from .checks import check_before_import

            check_before_import(args)  # a wrong path or option needs no torch to be refused
            return _command(args.command)(args)
        except KeyboardInterrupt:
            print("qwen3-rag: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `qwen3-rag embed ... | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as error:
            if args.debug:
                raise
            print(f"qwen3-rag: error: {escaped(_message(error, args))}", file=sys.stderr)
            return 1


def run() -> NoReturn:
    """The console script and `python -m qwen3_rag`: `main`, then an exit without the interpreter's teardown.

    Tearing down an interpreter that imported torch takes 0.3-0.9 s on a small CPU, longer than
    some commands' work. By then every file the command wrote is closed and the index helper has
    ended; only the standard streams are left to flush.
    """
    status = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a reader that went away (`| head`) has all it wanted
            stream.flush()
    os._exit(status)


def _message(error: Exception, args: argparse.Namespace) -> str:
    """The error in one line: its own words when it is the user's to fix (with a rebuild hint in shell terms)."""
    if not isinstance(error, EXPECTED_ERRORS):
        return f"{type(error).__name__}: {error} (run with --debug for the traceback)"
    from .hints import for_the_shell

    return for_the_shell(str(error), args)


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    run: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(f".{COMMAND_MODULES[name]}", __name__), f"run_{name}"
    )
    return run


__all__ = ["main", "run"]
