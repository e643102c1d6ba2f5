"""`qwen3-rag index`: chunk, embed and store the text files of folders, updating an existing index."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..checkpoint.tokenizer import normalise_source
from ..display import quoted
from ..errors import InvalidArgumentError
from ..local_index import IndexStore, index_settings, update_index
from ..local_index.builder import DEFAULT_CHUNKING, resolve_roots
from ..local_index.chunking import check_chunking
from ..local_index.folder import check_same_settings
from ..local_index.precision import recorded_precision
from ..registry import DEFAULT_EMBEDDING_MODEL
from ..settings import DEFAULT_MAX_LENGTH
from .common import asked_settings, make_embedder, refuse_unused_local_options, reranker_choice, say


def recorded_settings(index: Path, asked: dict[str, Any]) -> dict[str, Any]:
    """An existing index's settings, after checking `asked` against them (before any model loads)."""
    recorded = IndexStore.recorded_settings(index)
    if recorded:
        check_same_settings(index, {**recorded, "precision": recorded_precision(recorded)}, asked)
    return recorded


def run_index(args: argparse.Namespace) -> int:
    index = Path(args.index)
    if not args.dirs and not args.trust:
        raise InvalidArgumentError("index needs at least one DIR to index (or --trust alone, to accept --index)")
    if args.trust:
        sealed = IndexStore.trust(index)
        say(args, f"trusted the index at {quoted(index)}: {sealed} manifests sealed with this account's key")
        if not args.dirs:
            return 0
    refuse_unused_local_options(args, [args.embedding_url])
    roots = resolve_roots([Path(d) for d in args.dirs])
    chunking = {"chunk_tokens": args.chunk_tokens, "overlap": args.overlap, "text_field": args.text_field}
    asked = asked_settings(args, include_instruction=True) | {k: v for k, v in chunking.items() if v is not None}
    if args.precision is not None:
        asked["precision"] = args.precision
    recorded = {} if args.rebuild else recorded_settings(index, asked)  # a damaged index's are not read
    chunking = {k: asked.get(k, recorded.get(k, default)) for k, default in DEFAULT_CHUNKING.items()}
    check_chunking(chunking["chunk_tokens"], chunking["overlap"])  # before the index directory is made
    embedder = make_embedder(
        args,
        args.embedding_model or recorded.get("embedding_model", DEFAULT_EMBEDDING_MODEL),
        revision=args.embedding_revision or recorded.get("revision"),
        dim=args.dim or recorded.get("dim"),
        instruction=args.instruction or recorded.get("instruction"),
        symmetric=recorded.get("symmetric"),  # a recorded instruction is a sentence, not the preset that set this
        max_length=recorded.get("max_length", DEFAULT_MAX_LENGTH),  # e.g. Ray's write_index(max_length=...)
    )
    reranker, reranker_revision = reranker_choice(args, recorded)
    settings = index_settings(
        embedder,
        **chunking,
        reranker={"reranker_model": normalise_source(reranker), "reranker_revision": reranker_revision},
        precision=asked.get("precision", recorded_precision(recorded)),
    )
    with IndexStore.create_or_open(index, settings, rebuild=args.rebuild) as store:
        report = update_index(
            store, roots, embedder, progress=not args.quiet, follow_symlinks=args.follow_symlinks, **chunking
        )
        say(args, report.summary(store))
    return 0
