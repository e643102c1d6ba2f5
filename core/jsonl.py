"""Reading JSON Lines: one value per non-blank line, with the line number for messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import InvalidInputError


def jsonl_values(
    lines: Iterable[str], source: str, skip_malformed: Callable[[int], None] | None = None
) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line.

    A malformed line (not JSON, a number too long to convert, nesting too deep) raises, naming
    it; with `skip_malformed`, it is reported there by line number and the reading goes on.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as error:
            if skip_malformed is not None:
                skip_malformed(number)
                continue
            detail = (
                error.msg
                if isinstance(error, json.JSONDecodeError)
                else ("nested too deeply" if isinstance(error, RecursionError) else str(error))
            )
            raise InvalidInputError(f"{source}:{number}: not JSON ({detail})") from None
        yield number, value
