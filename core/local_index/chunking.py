"""Overlapping windows of tokens over a text, kept as exact slices of it with their line range."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from tokenizers import Tokenizer

from ..errors import InvalidArgumentError
from ..validation import check_positive_int
from .walk import Section


@dataclass(frozen=True)
class Chunk:
    text: str
    start_line: int
    end_line: int
    tokens: int = 0  # the window's size in tokens, where chunking counted it (for the throughput line)


def check_chunking(chunk_tokens: int, overlap: int) -> None:
    check_positive_int(chunk_tokens, "chunk_tokens", minimum=8)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < chunk_tokens:
        raise InvalidArgumentError(
            f"overlap={overlap!r} must be an integer from 0 to chunk_tokens - 1 ({chunk_tokens - 1})"
        )


def chunk_section(section: Section, tokenizer: Tokenizer, chunk_tokens: int, overlap: int) -> list[Chunk]:
    """Windows of about `chunk_tokens` tokens, each starting `chunk_tokens - overlap` tokens after the last.

    Window edges move back by up to `chunk_tokens // 8` tokens to the start of a word, so no chunk
    opens or closes mid-word (a window may so hold up to 1/8 more tokens). Consecutive windows
    always meet or overlap: nothing between them is lost. `tokenizer` is the plain-text BPE, whose
    offsets are character offsets, so every chunk is a verbatim slice of the section;
    whitespace-only windows are dropped.
    """
    text = section.text
    offsets = tokenizer.encode(text, add_special_tokens=False).offsets
    if not offsets:
        return []
    newlines = [match.start() for match in re.finditer("\n", text)]
    slack = chunk_tokens // 8

    def word_start(token: int) -> bool:
        begin = offsets[token][0]
        return token == 0 or text[begin].isspace() or text[begin - 1].isspace()

    def edge(token: int) -> int:
        """`token`, or the nearest word start at most `slack` tokens before it (the end is its own edge)."""
        if token >= len(offsets):
            return len(offsets)
        for candidate in range(token, max(token - slack, 0) - 1, -1):
            if word_start(candidate):
                return candidate
        return token

    def line_of(position: int) -> int:
        if section.one_line:
            return section.first_line
        return section.first_line + bisect.bisect_left(newlines, position)

    chunks, step = [], chunk_tokens - overlap
    for grid in range(0, len(offsets), step):
        first, stop = edge(grid), edge(grid + chunk_tokens)
        begin = offsets[first][0]
        end = offsets[stop][0] if stop < len(offsets) else len(text)
        piece = text[begin:end]
        if piece.strip():
            chunks.append(Chunk(piece, line_of(begin), line_of(max(begin, end - 1)), stop - first))
        if grid + chunk_tokens >= len(offsets):
            break
    return chunks
