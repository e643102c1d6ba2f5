"""`qwen3-rag index`: chunk, embed and store the text files of folders, updating an existing index."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..checkpoint.identity import check_role
from ..checkpoint.tokenizer import normalise_source
from ..display import escaped, quoted
from ..local_index import IndexStore, index_settings, update_index
from ..local_index.builder import DEFAULT_CHUNKING, resolve_roots
from ..local_index.chunking import check_chunking
from ..local_index.folder import check_same_settings
from ..local_index.layouts import layout_of
from ..local_index.own_models import ModelChoice, load_choices, remember_choices
from ..local_index.upgrade import upgrade_format_2
from ..settings import DEFAULT_MAX_LENGTH
from ..vector_settings import VectorSettings
from .common import (
    asked_settings,
    embedder_for_index,
    refuse_unused_local_options,
    reranker_source,
    say,
)


def recorded_settings(index: Path, args: argparse.Namespace, asked: dict[str, Any]) -> dict[str, Any]:
    """An existing index's settings, after checking what the command line asks (`asked` and the models)
    against them, before any model loads; empty for a new index or a rebuild (a damaged index's are not read)."""
    recorded = {} if args.rebuild else IndexStore.recorded_settings(index)
    asked = asked | asked_settings(args, include_instruction=True)
    if args.precision is not None:
        asked["precision"] = args.precision
    if recorded:
        check_same_settings(index, {**recorded, "precision": layout_of(recorded).precision}, asked)
    return recorded


def run_index(args: argparse.Namespace) -> int:
    index = Path(args.index)  # DIRs, models named as folders and the rest: checked before import (checks.py)
    if args.trust:
        sealed = IndexStore.trust(index)
        say(args, f"trusted the index at {quoted(index)}: {sealed} manifests sealed with this account's key")
        if not args.dirs:
            return 0
    refuse_unused_local_options(args, [args.embedding_url])
    roots = resolve_roots([Path(d) for d in args.dirs])
    named = {"chunk_tokens": args.chunk_tokens, "overlap": args.overlap, "text_field": args.text_field}
    named = {k: v for k, v in named.items() if v is not None}
    recorded = recorded_settings(index, args, named)
    chunking = {k: named.get(k, recorded.get(k, default)) for k, default in DEFAULT_CHUNKING.items()}
    check_chunking(chunking["chunk_tokens"], chunking["overlap"])  # before the index directory is made
    own = load_choices(index)  # the models this account built the index with, if it did (a rebuild too)
    reranker = reranker_source(args, own)
    check_role("reranker", normalise_source(reranker[0]))  # a wrong reranker shows now, not at search
    embedder = embedder_for_index(
        args,
        index,
        recorded,
        own,
        dim=args.dim or recorded.get("dim"),
        instruction=args.instruction or recorded.get("instruction"),
        symmetric=recorded.get("symmetric"),  # a recorded instruction is a sentence, not the preset that set this
        max_length=recorded.get("max_length", DEFAULT_MAX_LENGTH),  # e.g. Ray's write_index(max_length=...)
    )
    if recorded.get("format_version") == 2:  # absolute paths, no text hashes: rewritten, nothing embedded
        kept = upgrade_format_2(index, VectorSettings.of(embedder).embedding_model)
        say(args, f"upgraded the index at {quoted(index)} to paths relative to its folder: {kept} chunks kept")
    precision = args.precision or layout_of(recorded).precision
    settings = index_settings(embedder, **chunking, precision=precision)
    with IndexStore.create_or_open(index, settings, rebuild=args.rebuild) as store:
        report = update_index(
            store, roots, embedder, progress=not args.quiet, follow_symlinks=args.follow_symlinks, **chunking
        )
        say(args, f"{report.summary(store)}; search reranks with {escaped(reranker[0])}")
    choices = {"reranker": ModelChoice.named(*reranker)}
    if args.embedding_url is None:  # a served model's card is never recorded as a model to run here
        choices["embedding"] = ModelChoice.named(embedder.checkpoint, embedder.revision)
    remember_choices(index, choices)  # once the run (and a rebuild's swap) succeeded
    return 0
