"""What each `qwen3-rag` subcommand does, given its parsed arguments. Output goes to stdout,
progress and the summary line to stderr, so `--json` output can be piped."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ..display import escaped, json_text, plural
from ..embedder import DEFAULT_EMBEDDING_MODEL, Embedder
from ..errors import InvalidArgumentError
from ..evaluation import evaluate, load_beir
from ..kernels.loading import normalise_source
from ..local_index import IndexStore, index_settings, update_index
from ..local_index.builder import DEFAULT_CHUNKING, resolve_roots
from ..local_index.chunking import check_chunking
from ..local_index.store import check_same_settings
from ..presets import resolve_task
from ..reranker import DEFAULT_RERANKER_MODEL, Reranker, sigmoid
from ..validation import check_positive_int
from .parser import RERANKER_MODEL_VARIABLE
from .streams import NpyWriter, blocks, field_of, read_records


def say(args: argparse.Namespace, line: str) -> None:
    """The run's summary, on stderr; silent under --quiet."""
    if not args.quiet:
        print(line, file=sys.stderr)


def make_embedder(args: argparse.Namespace, model: str, **settings: Any) -> Embedder:
    return Embedder(model, device=args.device, dtype=args.dtype, batch_tokens=args.batch_tokens,
                    allow_pickle=args.allow_pickle, **settings)


def make_reranker(args: argparse.Namespace, recorded: dict[str, Any] | None = None) -> Reranker:
    model, revision = reranker_choice(args, recorded or {})
    return Reranker(model, device=args.device, dtype=args.dtype, instruction=args.instruction,
                    batch_tokens=args.batch_tokens, revision=revision, allow_pickle=args.allow_pickle)


def reranker_choice(args: argparse.Namespace, recorded: dict[str, Any]) -> tuple[str, str | None]:
    """The reranker and revision: named on the command line, else the index's, else $QWEN3_RAG_RERANKER_MODEL."""
    if args.reranker_model is not None:
        return args.reranker_model, args.reranker_revision
    if recorded.get("reranker_model"):
        return recorded["reranker_model"], args.reranker_revision or recorded.get("reranker_revision")
    return os.environ.get(RERANKER_MODEL_VARIABLE) or DEFAULT_RERANKER_MODEL, args.reranker_revision


def asked_settings(args: argparse.Namespace, include_instruction: bool) -> dict[str, Any]:
    """The index settings the user named on the command line (the others default to the index's)."""
    asked: dict[str, Any] = {}
    if args.embedding_model is not None:
        asked["embedding_model"] = normalise_source(args.embedding_model)
    if args.embedding_revision is not None:
        asked["revision"] = args.embedding_revision
    if args.dim is not None:
        asked["dim"] = args.dim
    if include_instruction and args.instruction is not None:
        asked["instruction"] = resolve_task(args.instruction).instruction
    return asked


def recorded_settings(index: Path, asked: dict[str, Any]) -> dict[str, Any]:
    """An existing index's settings, after checking `asked` against them (before any model loads)."""
    recorded = IndexStore.recorded_settings(index)
    if recorded:
        check_same_settings(index, recorded, asked)
    return recorded


# ----- index -----

def run_index(args: argparse.Namespace) -> int:
    roots = resolve_roots([Path(d) for d in args.dirs])
    index = Path(args.index)
    chunking = {"chunk_tokens": args.chunk_tokens, "overlap": args.overlap, "text_field": args.text_field}
    asked = asked_settings(args, include_instruction=True) | {k: v for k, v in chunking.items() if v is not None}
    recorded = {} if args.rebuild else recorded_settings(index, asked)  # a damaged index's are not read
    chunking = {k: asked.get(k, recorded.get(k, default)) for k, default in DEFAULT_CHUNKING.items()}
    check_chunking(chunking["chunk_tokens"], chunking["overlap"])  # before the index directory is made
    embedder = make_embedder(
        args, args.embedding_model or recorded.get("embedding_model", DEFAULT_EMBEDDING_MODEL),
        revision=args.embedding_revision or recorded.get("revision"), dim=args.dim or recorded.get("dim"),
        instruction=args.instruction or recorded.get("instruction"),
        symmetric=recorded.get("symmetric"),  # a recorded instruction is a sentence, not the preset that set this
    )
    reranker, reranker_revision = reranker_choice(args, recorded)
    settings = index_settings(embedder, **chunking, reranker={"reranker_model": normalise_source(reranker),
                                                              "reranker_revision": reranker_revision})
    with IndexStore.create_or_open(index, settings, rebuild=args.rebuild) as store:
        report = update_index(store, roots, embedder, progress=not args.quiet, follow_symlinks=args.follow_symlinks,
                              **chunking)
        say(args, report.summary(store))
    return 0


# ----- search -----

def run_search(args: argparse.Namespace) -> int:
    top_k = check_positive_int(args.top_k, "--top-k")
    candidates = check_positive_int(args.candidates, "--candidates")
    if not args.no_rerank and candidates < top_k:
        raise InvalidArgumentError(f"--candidates={candidates} must be at least --top-k={top_k}")
    started = time.perf_counter()
    with IndexStore.open(args.index) as store:
        recorded = store.settings
        # Documents carry the instruction only in a symmetric index; otherwise a query may use its own.
        store.check_settings(asked_settings(args, include_instruction=recorded["symmetric"]))
        embedder = make_embedder(args, recorded["embedding_model"], revision=recorded["revision"],
                                 dim=recorded["dim"], max_length=recorded["max_length"],
                                 instruction=args.instruction or recorded["instruction"],
                                 symmetric=recorded["symmetric"])
        query = embedder.embed_queries([args.question])[0]
        found = store.search(query, top_k if args.no_rerank else candidates,
                             text=args.question if args.hybrid else None)
    hits = found.hits
    results = [(h.score, h) for h in hits[:top_k]]  # (score shown, hit); the hit's own score is its similarity
    if not args.no_rerank and hits:
        ranked = make_reranker(args, recorded).rerank(args.question, [h.text for h in hits], top_k=top_k)
        results = [(r.score, hits[r.index]) for r in ranked]
    if args.json:
        print(json_text({"question": args.question, "reranked": not args.no_rerank, "hybrid": found.hybrid,
                         "exact": found.exact, "index_version": found.version, "results": [
            {"rank": rank, "score": score, "similarity": hit.score, "path": _shown_path(hit.path),
             "start_line": hit.start_line, "end_line": hit.end_line, "text": hit.text}
            for rank, (score, hit) in enumerate(results, start=1)]}))
    else:
        for rank, (score, hit) in enumerate(results, start=1):
            print(f"{rank}. {score:.4f}  {escaped(_shown_path(hit.path))}:{hit.start_line}-{hit.end_line}")
            print(f"   {_snippet(hit.text)}")
    recall = ("hybrid" if found.hybrid else "embedding") + (" exact" if found.exact else " approximate (ANN)")
    say(args, f"{plural(len(results), 'result')} from {plural(len(hits), 'candidate')}, {recall} recall "
              f"({time.perf_counter() - started:.2f} s)")
    return 0


def _shown_path(path: str) -> str:
    """Relative to the working folder when under it, else absolute: the same in text and JSON output."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # not a path this platform can relate (a damaged or planted index's string)
        return path
    return path if relative.startswith("..") else relative


def _snippet(text: str, width: int = 160) -> str:
    flat = escaped(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# ----- embed and rerank (streaming) -----

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
            _jsonl_line({**r, "embedding": v.tolist()}) for r, v in zip(records, vectors, strict=True))


def _numbered_blocks(args: argparse.Namespace, stream: IO[str], fmt: str, source: str, description: str,
                     unit: str) -> Iterator[tuple[list[dict[str, Any]], list[str]]]:
    """Blocks of `--block-size` input records, each record with its name for error messages, on a progress bar."""
    block_size, done = args.block_size, 0
    with tqdm(desc=description, unit=unit, disable=args.quiet) as bar:
        for block in blocks(read_records(stream, fmt, source), block_size):
            yield block, [f"{source}: record {done + i + 1}" for i in range(len(block))]
            done += len(block)
            bar.update(len(block))


def run_embed(args: argparse.Namespace) -> int:
    check_positive_int(args.block_size, "--block-size")  # before the output file is created
    embedder = make_embedder(args, args.embedding_model or DEFAULT_EMBEDDING_MODEL, dim=args.dim,
                             instruction=args.instruction, revision=args.embedding_revision)
    embed = embedder.embed_queries if args.queries else embedder.embed_documents
    started, count = time.perf_counter(), 0
    with _input(args) as (stream, fmt, source), _embedding_sink(args.output, embedder.dim) as write:
        field = "text" if fmt == "text" else args.field
        for block, names in _numbered_blocks(args, stream, fmt, source, "Embedding", "text"):
            write(block, embed([field_of(r, field, name) for r, name in zip(block, names, strict=True)]))
            count += len(block)
    say(args, f"embedded {plural(count, 'text')} into {embedder.dim} dimensions "
              f"({time.perf_counter() - started:.1f} s)")
    return 0


def run_rerank(args: argparse.Namespace) -> int:
    check_positive_int(args.block_size, "--block-size")
    if args.output.endswith(".npy"):
        raise InvalidArgumentError("--output for rerank is JSONL (records with their scores), not .npy")
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
            out.writelines(_jsonl_line({**r, "score": float(s), "logit": float(lo)})
                           for r, s, lo in zip(block, sigmoid(logits), logits, strict=True))
            count += len(block)
    say(args, f"scored {plural(count, 'pair')} ({time.perf_counter() - started:.1f} s)")
    return 0


# ----- eval -----

def run_eval(args: argparse.Namespace) -> int:
    candidates = check_positive_int(args.candidates, "--candidates")
    limit = None if args.limit is None else check_positive_int(args.limit, "--limit")
    dataset = load_beir(args.dataset, args.split)
    embedder = make_embedder(args, args.embedding_model or DEFAULT_EMBEDDING_MODEL, dim=args.dim,
                             instruction=args.instruction, revision=args.embedding_revision,
                             progress_bar=not args.quiet)
    reranker = None if args.no_rerank else make_reranker(args)
    report = evaluate(dataset, embedder, reranker, candidates=candidates, limit=limit, progress=not args.quiet)
    print(json.dumps(report.as_dict()) if args.json else report.table())
    say(args, f"{plural(report.queries, 'query', 'queries')} over {plural(report.documents, 'document')} ("
        + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items()) + ")")
    return 0


COMMANDS = {"index": run_index, "search": run_search, "embed": run_embed, "rerank": run_rerank, "eval": run_eval}
