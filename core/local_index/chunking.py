"""Overlapping windows of tokens over a text, kept as exact slices of it with their line range."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from tokenizers import Tokenizer

from ..errors import InvalidArgumentError
from ..validation import check_positive_int
from .files import Section


@dataclass(frozen=True)
class Chunk:
    text: str
    start_line: int
    end_line: int


def check_chunking(chunk_tokens: int, overlap: int) -> None:
    check_positive_int(chunk_tokens, "chunk_tokens", minimum=8)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < chunk_tokens:
        raise InvalidArgumentError(f"overlap={overlap!r} must be an integer from 0 to chunk_tokens - 1 "
                                   f"({chunk_tokens - 1})")


def chunk_section(section: Section, tokenizer: Tokenizer, chunk_tokens: int, overlap: int) -> list[Chunk]:
    """Windows of `chunk_tokens` tokens, each starting `chunk_tokens - overlap` tokens after the last.

    `tokenizer` is the plain-text BPE (no control tokens), whose offsets are character offsets,
    so every chunk is a verbatim slice of the section; whitespace-only windows are dropped.
    """
    offsets = tokenizer.encode(section.text, add_special_tokens=False).offsets
    newlines = [i for i, character in enumerate(section.text) if character == "\n"]

    def line_of(position: int) -> int:
        if section.one_line:
            return section.first_line
        return section.first_line + bisect.bisect_left(newlines, position)

    chunks, step = [], chunk_tokens - overlap
    for start in range(0, len(offsets), step):
        window = offsets[start:start + chunk_tokens]
        begin, end = window[0][0], window[-1][1]
        text = section.text[begin:end]
        if text.strip():
            chunks.append(Chunk(text, line_of(begin), line_of(max(begin, end - 1))))
        if start + chunk_tokens >= len(offsets):
            break
    return chunks
