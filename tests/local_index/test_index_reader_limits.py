"""LanceDB never runs in the user's process on bytes it cannot vouch for (issue 33, item 5): the search
helper reads the index under a data limit and a time limit per answer, its standard error kept, and a
panic, an abort or a limit becomes one line naming the index and the fix."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from index_helpers import build

from qwen3_rag.errors import LocalIndexError
from qwen3_rag.local_index import reader as reader_module
from qwen3_rag.local_index.manifest_check import varint
from qwen3_rag.local_index.reader import IndexReader, ReaderError, memory_limit
from qwen3_rag.local_index.seal import current, write_seal
from qwen3_rag.local_index.store import SEALED_TABLES


def varints(data: bytes, start: int, end: int, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], int, int]]:
    """(field path, value, position) of every varint field in a protobuf message, nested messages included
    (a bytes field that does not parse as a message is left as bytes)."""
    found: list[tuple[tuple[int, ...], int, int]] = []
    at = start
    while at < end:
        key, at = varint(data[:end], at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, after = varint(data[:end], at)
            found.append(((*path, number), value, at))
            at = after
        elif wire == 2:
            size, at = varint(data[:end], at)
            try:
                found.extend(varints(data, at, at + size, (*path, number)))
            except ValueError:
                pass
            at += size
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise ValueError("not a message")
    if at != end:
        raise ValueError("not a message")
    return found


def huge_buffer_count(raw: bytearray) -> None:
    """The footer claims 2**31 global buffers: LanceDB allocated 32 GiB for their offsets and aborted."""
    struct.pack_into("<I", raw, len(raw) - 40 + 24, 2**31)


# In Lance 2.2's encoding of the `id` column (strings in mini-blocks), the bit width of the offsets: one
# more than it is, and reading the column panics ("assertion failed: bits_per_offset == 32 || ...").
OFFSET_BITS = (2, 4, 2, 1, 2, 1, 3, 2, 1, 1, 1)


def garbled_column(raw: bytearray) -> None:
    column_meta_offsets = struct.unpack_from("<Q", raw, len(raw) - 40 + 8)[0]
    position, size = struct.unpack_from("<QQ", raw, column_meta_offsets)  # column 0: `id`
    widths = [(value, at) for path, value, at in varints(bytes(raw), position, position + size) if path == OFFSET_BITS]
    assert widths, "Lance's encoding of a string column changed: find another field whose change panics"
    value, at = widths[0]
    assert value < 127
    raw[at] = value + 1


HOSTILE: dict[str, Callable[[bytearray], None]] = {"abort": huge_buffer_count, "panic": garbled_column}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_data_files_give_one_line_and_no_rust_text(tmp_path, tiny_models, own_key, kind):
    """A data file that passed the seal (sealed as it is, as --trust of a file whose bad part only a search
    reaches would), read by `qwen3-rag search`: exit 1, one line naming the index and both fixes. Before,
    an abort printed "memory allocation of 34359738368 bytes failed" and a panic 17 lines of Rust."""
    built = build(
        tmp_path, "idx", tiny_models.embedding, {f"note{i}.txt": f"note {i} on the capital\n" for i in range(20)}
    )
    data = next((built / "chunks.lance" / "data").iterdir())
    raw = bytearray(data.read_bytes())
    HOSTILE[kind](raw)
    data.write_bytes(bytes(raw))
    write_seal(built, current(built, SEALED_TABLES), writing=False, rehash=True)
    result = subprocess.run(
        [sys.executable, "-m", "qwen3_rag", "-q", "search", "capital", "--index", str(built), "--no-rerank", "--json"]
        + ["--embedding-model", tiny_models.embedding, "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RUST_BACKTRACE": "1"},
    )
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("qwen3-rag: error: the index at") and str(built) in lines[0]
    assert "--rebuild" in lines[0] and ("--trust" in lines[0] or kind == "panic")
    assert "panicked at" not in result.stderr and "stack backtrace" not in result.stderr


def test_the_helper_runs_under_a_data_limit(tmp_path, tiny_models, own_key):
    built = build(tmp_path, "idx", tiny_models.embedding)
    with IndexReader(built) as reader:
        dim = reader.settings["dim"]  # LanceDB opened and searches under the limit
        query = np.zeros(dim, np.float32)
        query[0] = 1.0
        assert reader.search(query, 1).hits
        limits = Path(f"/proc/{reader.pid}/limits").read_text()
    data = next(line for line in limits.splitlines() if line.startswith("Max data size"))
    assert data.split()[3:5] == [str(memory_limit())] * 2
    assert memory_limit() <= 8 * 2**30


def test_an_answer_that_takes_too_long_ends_the_helper_in_one_line(tmp_path, tiny_models, own_key, monkeypatch):
    built = build(tmp_path, "idx", tiny_models.embedding)
    monkeypatch.setattr(reader_module, "ANSWER_SECONDS", 0.01)  # importing LanceDB alone takes longer
    with IndexReader(built) as reader, pytest.raises(ReaderError) as raised:
        reader.settings  # noqa: B018
    message = str(raised.value)
    assert "did not answer within 0.01 s" in message and str(built) in message
    assert "rebuild it (rebuild=True)" in message
    assert "\n" not in message and isinstance(raised.value, LocalIndexError)
    assert reader.pid is None
