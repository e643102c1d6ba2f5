"""Text from files and indexes made safe for a terminal: control characters are shown, never sent.

File names and document text come from strangers. Raw, an escape sequence could recolour the
terminal, move the cursor to forge result lines or write the clipboard; a newline could fake a
line of output; a bidirectional override could make a name read backwards.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO


def progress_shows() -> bool:
    """Whether a progress bar can draw on stderr: a terminal or a notebook. In a log or a pipe its
    carriage returns and missing newline would garble the lines after it."""
    stream = sys.stderr
    return stream is not None and (bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules)


def escaped(text: str) -> str:
    """`text` with every non-printable character written as a Python escape (\\n, \\x1b, \\u202e, \\ud800).

    Non-printable here is Python's definition: control and format characters, line and paragraph
    separators, lone surrogates and unassigned code points; the space is the only whitespace kept.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def quoted(text: object) -> str:
    """`text` in quotes for a message, escaped."""
    return f"'{escaped(str(text))}'"


def json_text(value: object) -> str:
    """`value` as one line of JSON whose every non-printable character is a \\u escape.

    Exact JSON (a parser reads the same value back), but safe to print: `json.dumps` leaves C1
    controls, bidirectional overrides and line separators raw once non-ASCII text is kept readable.
    """
    return "".join(ch if ch.isprintable() else _json_escape(ch) for ch in json.dumps(value, ensure_ascii=False))


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def plural(count: int, word: str, words: str | None = None) -> str:
    """'1 file', '2 files' (or `words` where the plural is not `word` + s)."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def warning_printer(stream: Callable[[], IO[str]]) -> Callable[..., None]:
    """A `warnings.showwarning` for the command line: one escaped line on `stream()` (looked up at each
    warning, so a replaced sys.stderr is honoured), no source location."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: IO[str] | None = None,
        line: str | None = None,
    ) -> None:
        print(f"qwen3-rag: warning: {escaped(str(message))}", file=stream())

    return show


show_warning = warning_printer(lambda: sys.stderr)
