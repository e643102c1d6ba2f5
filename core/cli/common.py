"""What every `qwen3-rag` command shares: the summary line and the models named by the options."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import model_factory
from ..checkpoint.identity import checkpoint_identity, describe
from ..checkpoint.tokenizer import normalise_source
from ..display import quoted
from ..errors import InvalidArgumentError
from ..model_methods import EmbeddingMethods, RankingMethods
from ..presets import resolve_task
from ..registry import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from ..settings import EmbedderSettings, ModelSettings, RerankerSettings
from .parser import API_KEY_VARIABLE, EMBEDDING_MODEL_VARIABLE, SHARED_OPTIONS, named_embedding, named_reranker

if TYPE_CHECKING:
    from ..local_index.own_models import ModelChoice


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
                "tokenizer": named_embedding(args) if served else None,
                **settings,
            }
        )
    )


def named_embedder(args: argparse.Namespace, **settings: Any) -> EmbeddingMethods:
    """The embedder the options name (or the default, never a folder here named like it), for commands
    without an index to take settings from."""
    named, revision = named_embedding(args), args.embedding_revision
    source, revision = choose_model("embedding", named, revision, {}, DEFAULT_EMBEDDING_MODEL)
    return make_embedder(args, source, dim=args.dim, instruction=args.instruction, revision=revision, **settings)


def make_reranker(args: argparse.Namespace, own: Mapping[str, ModelChoice] | None = None) -> RankingMethods:
    """The reranker chosen (see `choose_model`), or, with --reranker-url, the one that server runs."""
    served = args.reranker_url is not None
    model, revision = (args.reranker_model, args.reranker_revision) if served else reranker_source(args, own or {})
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


def reranker_source(args: argparse.Namespace, own: Mapping[str, ModelChoice]) -> tuple[str, str | None]:
    """The reranker this process runs: --reranker-model, else $QWEN3_RAG_RERANKER_MODEL, else the index's own."""
    return choose_model("reranker", named_reranker(args), args.reranker_revision, own, DEFAULT_RERANKER_MODEL)


def embedder_for_index(
    args: argparse.Namespace,
    index: str | os.PathLike[str],
    recorded: Mapping[str, Any],
    own: Mapping[str, ModelChoice],
    **settings: Any,
) -> EmbeddingMethods:
    """The embedding model a command runs on the index whose settings are `recorded` (empty: a new one),
    chosen by `choose_model` and checked to be the index's model before it loads (once connected, when
    it is served: the server says which checkpoint it runs)."""
    served = args.embedding_url is not None
    named, revision = named_embedding(args), args.embedding_revision
    source, revision = choose_model("embedding", named, revision, own, DEFAULT_EMBEDDING_MODEL)
    if recorded and not served:
        check_embedding_model(index, recorded, embedding_identity(source, recorded), revision, served)
    embedder = make_embedder(args, source, revision=revision, **settings)
    if recorded and served:
        check_embedding_model(index, recorded, embedding_identity(embedder.checkpoint, recorded), revision, served)
    return embedder


def choose_model(
    kind: str, named: str | None, revision: str | None, own: Mapping[str, ModelChoice], default: str
) -> tuple[str, str | None]:
    """One precedence for both models: the one named (flag, then environment variable), else the one this
    account built the index with (own_models.py; a local folder only while unchanged), else the default."""
    if named is not None:
        return named, revision
    choice = own.get(kind)
    if choice is None:
        if os.path.isdir(default):  # a folder here named like the hub id (a planted repository?) never stands in
            raise InvalidArgumentError(
                f"the folder {quoted(default)} here is named like the default {kind} model on the hub; name the "
                f"model with --{kind}-model (a hub id, or ./{default} if that folder is what you mean)"
            )
        return default, revision
    if not choice.unchanged():
        raise InvalidArgumentError(
            f"the {kind} model this index was built with, {quoted(choice.source)}, is gone or has changed since "
            f"(it is not {describe(choice.identity)} any more); name the model with --{kind}-model"
        )
    return choice.source, revision or choice.revision


def check_embedding_model(
    index: str | os.PathLike[str], recorded: Mapping[str, Any], identity: str, revision: str | None, served: bool
) -> None:
    """Refuse an embedding model other than the one the index's vectors came from, saying how to name it;
    for a model run here, at another hub revision too (the index's revision is compared, never fetched)."""
    if recorded.get("embedding_model") != identity:
        raise InvalidArgumentError(
            f"the index at {quoted(index)} holds vectors of {describe(str(recorded.get('embedding_model')))}, and "
            f"the embedding model here is {describe(identity)}; name the index's model with --embedding-model "
            f"(or ${EMBEDDING_MODEL_VARIABLE}): an index records what its model is, never where it lies"
        )
    if not served and recorded.get("revision") != revision:
        raise InvalidArgumentError(
            f"the index at {quoted(index)} holds vectors of {describe(identity)} at revision "
            f"{recorded.get('revision')!r}, and the model here is at revision {revision!r}; pin the index's "
            "revision with --embedding-revision if you trust it"
        )


def embedding_identity(source: str, recorded: Mapping[str, Any]) -> str:
    """What the embedding model `source` is, as the index `recorded` names models: an identity, or in an
    index of format 2 (before identities) the location it recorded."""
    located = normalise_source(source)
    return located if recorded.get("format_version") == 2 else checkpoint_identity(located)


# The options of the settings that apply to a model run in this process, by the settings' name.
LOCAL_OPTIONS = {
    option.field: option.flag for option in SHARED_OPTIONS if ModelSettings.placement()[option.field] == "here"
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


def asked_settings(args: argparse.Namespace, include_instruction: bool) -> dict[str, Any]:
    """The index settings the user named on the command line (the others default to the index's); the
    embedding model is checked on its own (`check_embedding_model`), by what it is."""
    asked: dict[str, Any] = {}
    if args.embedding_revision is not None:
        asked["revision"] = args.embedding_revision
    if args.dim is not None:
        asked["dim"] = args.dim
    if include_instruction and args.instruction is not None:
        asked["instruction"] = resolve_task(args.instruction).instruction
    return asked
