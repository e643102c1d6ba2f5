"""Reading JSON Lines: one value per non-blank line, with the line number for messages."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import InvalidInputError


def jsonl_values(lines: Iterable[str], source: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line; a line that is not JSON raises, naming it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{source}:{number}: not JSON ({error.msg})") from None
