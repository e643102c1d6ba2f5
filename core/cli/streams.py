"""Streaming input and output for `embed` and `rerank`: records in, blocks out, nothing held whole."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidInputError
from ..jsonl import jsonl_values

T = TypeVar("T")
NPY_HEADER_BYTES = 128  # fixed, so the row count can be written in place once the stream ends


def blocks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while block := list(islice(iterator, size)):
        yield block


def read_records(stream: IO[str], fmt: str, source: str) -> Iterator[dict[str, Any]]:
    """Records from JSONL (one object a line) or plain text (each line is {"text": line})."""
    if fmt == "text":
        yield from ({"text": line.rstrip("\r\n")} for line in stream)
        return
    for number, record in jsonl_values(stream, source):
        if not isinstance(record, dict):
            raise InvalidInputError(f"{source}:{number}: expected a JSON object, got {type(record).__name__}")
        yield record


def field_of(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        found = "no such field" if name not in record else f"a {type(value).__name__}"
        raise InvalidInputError(
            f"{where}: field {name!r} must be a string, found {found}; "
            f"fields are {sorted(record)} (choose one with --field)"
        )
    return value


class NpyWriter:
    """A .npy file written row block by row block; the header's row count is fixed up on close."""

    def __init__(self, path: str, dim: int):
        self.dim, self.rows = dim, 0
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.file.write(self._header())

    def _header(self) -> bytes:
        text = repr({"descr": "<f4", "fortran_order": False, "shape": (self.rows, self.dim)})
        body = text.encode("latin1").ljust(NPY_HEADER_BYTES - 10 - 1) + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body

    def write(self, vectors: NDArray[np.float32]) -> None:
        self.file.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        self.rows += len(vectors)

    def close(self) -> None:
        self.file.seek(0, io.SEEK_SET)
        self.file.write(self._header())
        self.file.close()
