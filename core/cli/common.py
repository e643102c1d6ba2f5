"""What every `qwen3-rag` command shares: the summary line and the models named by the options."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .. import model_factory
from ..checkpoint.tokenizer import normalise_source
from ..errors import InvalidArgumentError
from ..pipeline import EmbeddingMethods, RankingMethods
from ..presets import resolve_task
from ..registry import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from ..settings import EmbedderSettings, RerankerSettings
from .parser import API_KEY_VARIABLE, RERANKER_MODEL_VARIABLE


def say(args: argparse.Namespace, line: str) -> None:
    """The run's summary, on stderr; silent under --quiet."""
    if not args.quiet:
        print(line, file=sys.stderr)


def make_embedder(args: argparse.Namespace, model: str, **settings: Any) -> EmbeddingMethods:
    """`model` in this process, or, with --embedding-url, the served checkpoint (`model` is then only the
    default: an index compares the checkpoint the server reports with the one it recorded)."""
    served = args.embedding_url is not None
    return model_factory.make_embedder(
        EmbedderSettings.from_mapping(
            {
                **_where(args, args.embedding_url),
                "model": None if served else model,
                "tokenizer": args.embedding_model if served else None,
                **settings,
            }
        )
    )


def named_embedder(args: argparse.Namespace, **settings: Any) -> EmbeddingMethods:
    """The embedder the options name, for commands without an index to take settings from."""
    return make_embedder(
        args,
        args.embedding_model or DEFAULT_EMBEDDING_MODEL,
        dim=args.dim,
        instruction=args.instruction,
        revision=args.embedding_revision,
        **settings,
    )


def make_reranker(args: argparse.Namespace, recorded: dict[str, Any] | None = None) -> RankingMethods:
    """The reranker named (see `reranker_choice`), or, with --reranker-url, the one that server runs."""
    served = args.reranker_url is not None
    model, revision = (args.reranker_model, args.reranker_revision) if served else reranker_choice(args, recorded or {})
    return model_factory.make_reranker(
        RerankerSettings.from_mapping(
            {
                **_where(args, args.reranker_url),
                "model" if not served else "tokenizer": model,
                "revision": revision,
                "instruction": args.instruction,
            }
        )
    )


LOCAL_OPTIONS = {
    "device": "--device",
    "dtype": "--dtype",
    "batch_tokens": "--batch-tokens",
    "allow_pickle": "--allow-pickle",
}


def _where(args: argparse.Namespace, base_url: str | None) -> dict[str, Any]:
    """How the model runs: the options for this process, or the server and its key. A served model does not
    take the local options; `refuse_unused_local_options` makes sure some model does."""
    if base_url is not None:
        return {"base_url": base_url, "api_key": os.environ.get(API_KEY_VARIABLE)}
    return {name: getattr(args, name) for name in LOCAL_OPTIONS}


def refuse_unused_local_options(args: argparse.Namespace, urls: list[str | None]) -> None:
    """--device, --dtype, --batch-tokens and --allow-pickle apply to the models this command runs here; when
    every model it uses is served (`urls`), they would change nothing: refused, never ignored."""
    given = [flag for name, flag in LOCAL_OPTIONS.items() if getattr(args, name) not in (None, False)]
    if given and all(url is not None for url in urls):
        raise InvalidArgumentError(
            f"{', '.join(given)} set(s) how a model runs in this process, and every model of this command is "
            "served (--embedding-url/--reranker-url); leave them out"
        )


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
    if args.embedding_model is not None:  # with --embedding-url too: it names the checkpoint served
        asked["embedding_model"] = normalise_source(args.embedding_model)
    if args.embedding_revision is not None:
        asked["revision"] = args.embedding_revision
    if args.dim is not None:
        asked["dim"] = args.dim
    if include_instruction and args.instruction is not None:
        asked["instruction"] = resolve_task(args.instruction).instruction
    return asked
