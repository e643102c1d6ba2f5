"""What each command can refuse before its module, and so torch and LanceDB, is imported.

Those imports take seconds on a small CPU (8-10 s on a busy one); a folder, file or model path that is
not there, or an index that does not exist, is found in milliseconds. Only the standard library and
light modules of the package are imported here.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from ..display import quoted
from ..errors import InvalidArgumentError, ModelLoadError
from ..local_index.folder import check_folder, no_index_error
from ..registry import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from ..validation import check_positive_int
from .parser import EMBEDDING_MODEL_VARIABLE, RERANKER_MODEL_VARIABLE, named_embedding, named_reranker


def check_before_import(args: argparse.Namespace) -> None:
    """Refuse what `args` get wrong that needs no model and no index library."""
    CHECKS.get(args.command, lambda args: None)(args)


def _index(args: argparse.Namespace) -> None:
    if not args.dirs and not args.trust:
        raise InvalidArgumentError("index needs at least one DIR to index (or --trust alone, to accept --index)")
    for folder in args.dirs:
        _check_folder(folder, "DIR")
    if args.dirs:  # --trust alone loads no model
        _check_models(args, reranker=True)


def _search(args: argparse.Namespace) -> None:
    index = Path(args.index)
    if not check_folder(index):  # the words of `IndexStore.open`, which says so only once LanceDB is imported
        raise no_index_error(index)
    _check_models(args, reranker=not args.no_rerank)


def _stream(args: argparse.Namespace) -> None:
    check_positive_int(args.block_size, "--block-size")
    # Only a folder or nothing at all: a pipe (`<(zcat x.gz)`, /dev/stdin) is no regular file, yet readable.
    if args.input != "-" and (os.path.isdir(args.input) or not os.path.exists(args.input)):
        why = "is a folder" if os.path.isdir(args.input) else "does not exist"
        raise InvalidArgumentError(f"INPUT {quoted(args.input)} {why}; give a file, or - (the default) for stdin")
    _check_models(args, embedding=args.command == "embed", reranker=args.command == "rerank")


def _eval(args: argparse.Namespace) -> None:
    _check_models(args, reranker=not args.no_rerank)


def _check_folder(path: str, name: str) -> None:
    if not os.path.isdir(path):
        why = "it does not exist" if not os.path.exists(path) else "it is a file"
        raise InvalidArgumentError(f"{name} {quoted(path)} is not a folder ({why})")


def _check_models(args: argparse.Namespace, *, embedding: bool = True, reranker: bool) -> None:
    """A model named as a local folder must be one (a hub id is checked when it loads)."""
    if embedding:
        _check_model("--embedding-model", named_embedding(args), EMBEDDING_MODEL_VARIABLE, DEFAULT_EMBEDDING_MODEL)
    if reranker:
        _check_model("--reranker-model", named_reranker(args), RERANKER_MODEL_VARIABLE, DEFAULT_RERANKER_MODEL)


def _check_model(option: str, named: str | None, variable: str, example: str) -> None:
    if not named:
        return
    from ..checkpoint.tokenizer import normalise_source  # only here: it brings huggingface_hub (~100 ms)

    try:
        normalise_source(named)
    except ModelLoadError:
        given = f"${variable}" if os.environ.get(variable) == named else option
        raise InvalidArgumentError(
            f"{given} {quoted(named)} is not an existing folder, nor a hub id like {quoted(example)}"
        ) from None


CHECKS: dict[str, Callable[[argparse.Namespace], None]] = {
    "index": _index,
    "search": _search,
    "embed": _stream,
    "rerank": _stream,
    "eval": _eval,
}
