"""`qwen3-rag embed` and `qwen3-rag rerank`: records streamed in blocks from a file or stdin,
results to stdout (JSONL) or a file; progress and the summary line go to stderr."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from ..display import json_text, plural
from ..errors import InvalidArgumentError
from ..progress import bar
from ..reranker import sigmoid
from .common import make_reranker, named_embedder, refuse_unused_local_options, say
from .streams import NpyWriter, blocks, field_of, read_records


@contextlib.contextmanager
def _input(args: argparse.Namespace) -> Iterator[tuple[IO[str], str, str]]:
    """The input stream, its format and a name for error messages."""
    if args.input == "-":
        yield sys.stdin, ("jsonl" if args.format == "jsonl" else "text"), "<stdin>"
        return
    fmt = args.format
    if fmt == "auto":
        fmt = "jsonl" if Path(args.input).suffix.lower() in {".jsonl", ".ndjson"} else "text"
    with open(args.input, encoding="utf-8") as stream:
        yield stream, fmt, args.input


@contextlib.contextmanager
def _jsonl_output(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8") as out:
        yield out


def _jsonl_line(record: dict[str, Any]) -> str:
    return json_text(record) + "\n"


@contextlib.contextmanager
def _embedding_sink(path: str, dim: int) -> Iterator[Callable[[list[dict[str, Any]], NDArray[np.float32]], None]]:
    """A writer of (records, vectors) blocks: rows of a .npy file, or records with an "embedding" field."""
    if path.endswith(".npy"):
        npy = NpyWriter(path, dim)
        try:
            yield lambda records, vectors: npy.write(vectors)
        finally:
            npy.close()  # a failed run still leaves a valid .npy of the rows done
        return
    with _jsonl_output(path) as out:
        yield lambda records, vectors: out.writelines(
            _jsonl_line({**r, "embedding": v.tolist()}) for r, v in zip(records, vectors, strict=True)
        )


def _numbered_blocks(
    args: argparse.Namespace, stream: IO[str], fmt: str, source: str, description: str, unit: str
) -> Iterator[tuple[list[dict[str, Any]], list[str]]]:
    """Blocks of `--block-size` input records, each record with its name for error messages, on a progress bar."""
    block_size, done = args.block_size, 0
    with bar(not args.quiet, description, unit) as shown:
        for block in blocks(read_records(stream, fmt, source), block_size):
            yield block, [f"{source}: record {done + i + 1}" for i in range(len(block))]
            done += len(block)
            shown.update(len(block))


def run_embed(args: argparse.Namespace) -> int:
    refuse_unused_local_options(args, [args.embedding_url])
    embedder = named_embedder(args)
    embed = embedder.embed_queries if args.queries else embedder.embed_documents
    started, count = time.perf_counter(), 0
    with _input(args) as (stream, fmt, source), _embedding_sink(args.output, embedder.dim) as write:
        field = "text" if fmt == "text" else args.field
        for block, names in _numbered_blocks(args, stream, fmt, source, "Embedding", "text"):
            write(block, embed([field_of(r, field, name) for r, name in zip(block, names, strict=True)]))
            count += len(block)
    say(
        args, f"embedded {plural(count, 'text')} into {embedder.dim} dimensions ({time.perf_counter() - started:.1f} s)"
    )
    return 0


def run_rerank(args: argparse.Namespace) -> int:
    if args.output.endswith(".npy"):
        raise InvalidArgumentError("--output for rerank is JSONL (records with their scores), not .npy")
    refuse_unused_local_options(args, [args.reranker_url])
    reranker = make_reranker(args)
    started, count = time.perf_counter(), 0
    with _input(args) as (stream, fmt, source), _jsonl_output(args.output) as out:
        if fmt == "text" and args.query is None:
            raise InvalidArgumentError("plain-text input holds documents only; give the query with --query")
        document_field = "text" if fmt == "text" else args.document_field
        for block, names in _numbered_blocks(args, stream, fmt, source, "Reranking", "pair"):
            pairs = list(zip(block, names, strict=True))
            queries = [args.query if args.query is not None else field_of(r, args.query_field, n) for r, n in pairs]
            logits = reranker.pair_logits(queries, [field_of(r, document_field, n) for r, n in pairs])
            out.writelines(
                _jsonl_line({**r, "score": float(s), "logit": float(lo)})
                for r, s, lo in zip(block, sigmoid(logits), logits, strict=True)
            )
            count += len(block)
    say(args, f"scored {plural(count, 'pair')} ({time.perf_counter() - started:.1f} s)")
    return 0
