"""`qwen3-rag search`: ask a question of an index. Results go to stdout, the summary line to
stderr, so `--json` output can be piped."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from ..display import escaped, json_text, plural
from ..errors import InvalidArgumentError
from ..local_index.layouts import layout_of
from ..local_index.own_models import load_choices
from ..local_index.places import shown_path
from ..local_index.reader import IndexReader
from ..local_index.search import Found, Hit
from ..validation import check_positive_int


def run_search(args: argparse.Namespace) -> int:
    top_k = check_positive_int(args.top_k, "--top-k")
    candidates = check_positive_int(args.candidates, "--candidates")
    rescore = None if args.rescore is None else check_positive_int(args.rescore, "--rescore")
    if not args.no_rerank and candidates < top_k:
        raise InvalidArgumentError(f"--candidates={candidates} must be at least --top-k={top_k}")
    started = time.perf_counter()
    with IndexReader(args.index) as store:  # a helper process imports LanceDB and opens the index ...
        from . import common  # ... while torch imports here

        common.refuse_unused_local_options(args, [args.embedding_url, *([] if args.no_rerank else [args.reranker_url])])
        recorded = store.settings
        layout = layout_of(recorded)
        layout.refuse_rescore(rescore, "--rescore")  # before any model loads
        # Documents carry the instruction only in a symmetric index; otherwise a query may use its own.
        store.check_settings(common.asked_settings(args, include_instruction=recorded["symmetric"]))
        own = load_choices(Path(args.index))  # the models this account built the index with, if it did
        embedder = common.embedder_for_index(
            args,
            args.index,
            recorded,
            own,
            dim=recorded["dim"],
            max_length=recorded["max_length"],
            instruction=args.instruction or recorded["instruction"],
            symmetric=recorded["symmetric"],
        )
        store.check_settings({"dim": embedder.dim})
        query = embedder.embed_queries([args.question])[0]
        found = store.search(
            query, top_k if args.no_rerank else candidates, text=args.question if args.hybrid else None, rescore=rescore
        )
    results: list[tuple[Hit, float | None]] = [(h, None) for h in found.hits[:top_k]]  # (hit, its probability)
    if not args.no_rerank and found.hits:
        texts = [h.text for h in found.hits]
        ranked = common.make_reranker(args, own).rerank(args.question, texts, top_k=top_k)
        results = [(found.hits[r.index], r.score) for r in ranked]
    ordered_by = "probability" if not args.no_rerank else "fused" if found.hybrid else "similarity"
    rows = [_result(rank, *result, ordered_by, args.index, recorded) for rank, result in enumerate(results, start=1)]
    _print(args, found, layout.precision, ordered_by, rows)
    recall = ("hybrid" if found.hybrid else "embedding") + (" exact" if found.exact else " approximate (ANN)")
    recall += layout.summary(rescore, found.exact, found.index_details)
    common.say(
        args,
        f"{plural(len(results), 'result')} from {plural(len(found.hits), 'candidate')}, {recall} recall "
        f"({time.perf_counter() - started:.2f} s)",
    )
    return 0


def _print(args: argparse.Namespace, found: Found, precision: str, ordered_by: str, rows: list[dict[str, Any]]) -> None:
    if not args.json:
        for row in rows:
            print(f"{row['rank']}. {row['score']:.4f}  {escaped(row['path'])}:{row['start_line']}-{row['end_line']}")
            print(f"   {_snippet(row['text'])}")
        return
    answer = {
        "question": args.question,
        "reranked": not args.no_rerank,
        "hybrid": found.hybrid,
        "exact": found.exact,
        "precision": precision,
        "index_version": found.version,
        "ordered_by": ordered_by,
        "results": rows,
    }
    print(json_text(answer))


def _result(
    rank: int, hit: Hit, probability: float | None, ordered_by: str, index: str, recorded: dict[str, Any]
) -> dict[str, Any]:
    """One result, each of its scores by name; `score` repeats the one that orders the results (`ordered_by`):
    a hybrid list is in fused order, not by its similarities (see SEARCH_JSON_HELP)."""
    scores = {"similarity": hit.score, "fused": hit.fused, "probability": probability}
    return {
        "rank": rank,
        "score": scores[ordered_by],
        **scores,
        "path": _shown(hit, index, recorded),
        "start_line": hit.start_line,
        "end_line": hit.end_line,
        "text": hit.text,
    }


def _shown(hit: Hit, index: str, recorded: dict[str, Any]) -> str:
    """A file as the user would type it from here (see places.py); an entry written by id as its id (format 2
    marked none: there, every record that is not an absolute path is an id)."""
    by_id = hit.document or (recorded["format_version"] == 2 and not os.path.isabs(hit.path))
    return hit.path if by_id else shown_path(hit.path, index)


def _snippet(text: str, width: int = 160) -> str:
    flat = escaped(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"
