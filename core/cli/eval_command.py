"""`qwen3-rag eval`: retrieval metrics on a BEIR-format dataset."""

from __future__ import annotations

import argparse
import json

from ..display import plural
from ..evaluation import evaluate, load_beir
from ..validation import check_positive_int
from .common import make_reranker, named_embedder, refuse_unused_local_options, say


def run_eval(args: argparse.Namespace) -> int:
    candidates = check_positive_int(args.candidates, "--candidates")
    limit = None if args.limit is None else check_positive_int(args.limit, "--limit")
    dataset = load_beir(args.dataset, args.split)
    refuse_unused_local_options(args, [args.embedding_url, *([] if args.no_rerank else [args.reranker_url])])
    embedder = named_embedder(args, progress_bar=not args.quiet)
    reranker = None if args.no_rerank else make_reranker(args)
    report = evaluate(dataset, embedder, reranker, candidates=candidates, limit=limit, progress=not args.quiet)
    print(json.dumps(report.as_dict()) if args.json else report.table())
    say(
        args,
        f"{plural(report.queries, 'query', 'queries')} over {plural(report.documents, 'document')} ("
        + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items())
        + ")",
    )
    return 0
