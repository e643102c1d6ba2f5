"""`qwen3-rag` (also `python -m qwen3_rag`): index, search, embed, rerank and eval from a shell."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

# LanceDB's engine logs warnings (empty IVF partitions, API deprecations) straight to stderr; the
# command line reports problems itself. A LANCE_LOG set by the user still wins.
os.environ.setdefault("LANCE_LOG", "error")

from ..display import escaped  # noqa: E402
from ..errors import Qwen3RagError  # noqa: E402
from .commands import COMMANDS  # noqa: E402
from .parser import build_parser  # noqa: E402

EXPECTED_ERRORS = (Qwen3RagError, OSError, ValueError)  # the user's to fix: no traceback needed


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors become one line on stderr and a non-zero exit status."""
    args = build_parser().parse_args(argv)
    if args.quiet:
        from huggingface_hub.utils import disable_progress_bars

        # Download bars, and transformers' "Loading weights" bar, which reads this setting when imported
        # (later, and only for checkpoints loaded through transformers).
        disable_progress_bars()
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return COMMANDS[args.command](args)
        except KeyboardInterrupt:
            print("qwen3-rag: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `qwen3-rag embed ... | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as error:
            if args.debug:
                raise
            detail = str(error) if isinstance(error, EXPECTED_ERRORS) else (
                f"{type(error).__name__}: {error} (run with --debug for the traceback)")
            print(f"qwen3-rag: error: {escaped(detail)}", file=sys.stderr)
            return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001 - warnings API
    print(f"qwen3-rag: warning: {escaped(str(message))}", file=sys.stderr)


__all__ = ["main"]
