"""The `qwen3-rag` command line: subcommands and their options; the models' options are made from the settings'
fields (settings_options.py), the others are declared here, by command."""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Sequence

from .. import __version__
from ..display import escaped
from ..local_index.precision import DEFAULT_RESCORE, FLOAT16_RESCORE, INDEX_PRECISIONS
from ..settings import EmbedderSettings, ModelSettings, RerankerSettings
from .settings_options import SettingOption, add_setting_options

DEFAULT_INDEX = ".qwen3-rag"
# Environment defaults for the models, e.g. local directories on a machine without hub access.
EMBEDDING_MODEL_VARIABLE = "QWEN3_RAG_EMBEDDING_MODEL"
RERANKER_MODEL_VARIABLE = "QWEN3_RAG_RERANKER_MODEL"
API_KEY_VARIABLE = "QWEN3_RAG_API_KEY"  # sent to --embedding-url / --reranker-url; never on the command line
SEARCH_JSON_HELP = (
    "print the results as one JSON object; each result names its scores: score (what orders the results, "
    "highest first: probability when reranked, else fused with --hybrid, else similarity; the object's "
    "ordered_by says which), similarity (cosine of the question and the chunk, -1..1), fused (reciprocal rank "
    "fusion score; null without --hybrid) and probability (the reranker's, that the chunk answers the question, "
    "0..1; null with --no-rerank)"
)

# The model options (settings_options.py): flag, default, type and help are the settings field's, and the
# note what the command line adds. Those of SHARED_OPTIONS set both models of a command.
SHARED_OPTIONS = [SettingOption(name) for name in ("device", "dtype", "instruction", "batch_tokens", "allow_pickle")]
EMBEDDING_OPTIONS = [
    SettingOption(
        "model",
        "embedding-",
        note=f"on the command line, ${EMBEDDING_MODEL_VARIABLE}, then the model you built the index with, come "
        "before the default",
    ),
    SettingOption("revision", "embedding-"),
    SettingOption(
        "base_url",
        "embedding-",
        "url",
        metavar="URL",
        note="--embedding-model then names the checkpoint it serves (default: the one it reports); a key, if "
        f"needed, in ${API_KEY_VARIABLE}",
    ),
    SettingOption("dim"),
]
RERANKER_OPTIONS = [
    SettingOption(
        "model",
        "reranker-",
        note=f"on the command line, ${RERANKER_MODEL_VARIABLE} (not with --reranker-url), then the model you built "
        "the index with, come before the default",
    ),
    SettingOption("revision", "reranker-"),
    SettingOption(
        "base_url",
        "reranker-",
        "url",
        metavar="URL",
        note=f"--reranker-model then names the checkpoint it serves; a key, if needed, in ${API_KEY_VARIABLE}",
    ),
]


def named_embedding(args: argparse.Namespace) -> str | None:
    """The embedding model the user named: --embedding-model, else $QWEN3_RAG_EMBEDDING_MODEL (an empty one is
    unset); with --embedding-url, the checkpoint that server runs."""
    return args.embedding_model or os.environ.get(EMBEDDING_MODEL_VARIABLE) or None


def named_reranker(args: argparse.Namespace) -> str | None:
    """The reranker the user named: --reranker-model, else $QWEN3_RAG_RERANKER_MODEL (an empty one is unset); with
    --reranker-url the option alone, which names what the server runs (the variable is for local models)."""
    if args.reranker_url is not None:
        return args.reranker_model
    return args.reranker_model or os.environ.get(RERANKER_MODEL_VARIABLE) or None


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's arguments; an unknown option after a command is that command's usage error (with
    a suggestion), not the top level's: argparse alone blames `qwen3-rag` and shows its usage."""
    parser, commands = command_parsers()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = commands.get(args.command, parser)
        command.error(unrecognized(unknown, command))  # exits with status 2, as argparse does
    return args


def unrecognized(unknown: list[str], parser: argparse.ArgumentParser) -> str:
    """The usage error for `unknown` arguments, with the closest option of `parser` for the first mistyped one."""
    message = f"unrecognized arguments: {escaped(' '.join(unknown))}"
    options = [name for action in parser._actions for name in action.option_strings]  # listed nowhere public
    for word in unknown:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1)
            if close:
                return f"{message}; did you mean {close[0]}?"
    return message


def command_parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each command's own, by name."""
    parser = argparse.ArgumentParser(
        prog="qwen3-rag",
        description="Index a folder with Qwen3-Embedding, search it with Qwen3-Reranker, and evaluate retrieval.",
        epilog='Example: qwen3-rag index docs/ && qwen3-rag search "how do I rotate the keys?"',
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _output_options(parser, default=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    output = argparse.ArgumentParser(add_help=False)  # also after the command name: `qwen3-rag search -q ...`
    _output_options(output, default=argparse.SUPPRESS)  # absent there: the value before the name stands
    shared = _model_options(ModelSettings, SHARED_OPTIONS)
    embedding = _model_options(EmbedderSettings, EMBEDDING_OPTIONS)
    reranking = _model_options(RerankerSettings, RERANKER_OPTIONS)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--index",
        default=DEFAULT_INDEX,
        metavar="PATH",
        help=f"index directory (default: {DEFAULT_INDEX} in the current directory)",
    )
    models = [output, shared, embedding, reranking]
    _index(commands, [*models, where])
    _search(commands, [*models, where])
    _embed(commands, [output, shared, embedding])
    _rerank(commands, [output, shared, reranking])
    _eval(commands, models)
    _models(commands, [output])
    return parser, dict(commands.choices)


Commands = argparse._SubParsersAction  # argparse names the type of add_subparsers() nowhere public


def _index(commands: Commands[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]) -> None:
    index = commands.add_parser(
        "index",
        parents=parents,
        help="index (or update the index of) folders",
        description="Chunk, embed and store the text files under DIR; re-running updates changed files, skips "
        "unchanged ones and drops deleted ones.",
    )
    index.add_argument("dirs", nargs="*", metavar="DIR", help="folder(s) to index (none with --trust alone)")
    index.add_argument(
        "--chunk-tokens", type=int, default=None, help="tokens per chunk (default 512; an existing index keeps its own)"
    )
    index.add_argument(
        "--overlap",
        type=int,
        default=None,
        help="tokens shared by consecutive chunks (default 64; an existing index keeps its own)",
    )
    index.add_argument("--text-field", default=None, help="field holding the text in .jsonl files (default 'text')")
    index.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links whose target lies inside the folders being indexed "
        "(links leading out of them are never followed)",
    )
    index.add_argument(
        "--rebuild",
        action="store_true",
        help="delete the index's own files first and build it anew (after damage, or to change settings)",
    )
    index.add_argument(
        "--precision",
        choices=list(INDEX_PRECISIONS),
        default=None,
        help="vectors as stored: float32 (default; LangChain's LanceDB store reads it); float16: 2,048 bytes "
        "a chunk instead of 4,096 at 1024 dims, recalled through a RaBitQ index (the choice for millions of "
        "chunks); int8: each vector in int8 steps of its own size, 1,028 bytes a chunk, searched by an exact "
        "scan; or binary: sign bits (recall by Hamming distance) plus int8 for rescoring, 1,156 bytes a chunk "
        "(an existing index keeps its own)",
    )
    index.add_argument(
        "--trust",
        action="store_true",
        help="accept an index this account did not write (copied or moved from a source you "
        "trust), sealing it with this account's key; with DIR, then update it",
    )


def _search(commands: Commands[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]) -> None:
    search = commands.add_parser(
        "search",
        parents=parents,
        help="ask a question of an index",
        description="Embed the question, take the top candidates by dot product, rerank them and print the best.",
    )
    search.add_argument("question")
    search.add_argument("-k", "--top-k", type=int, default=5, help="results to print (default 5)")
    search.add_argument(
        "-n",
        "--candidates",
        type=int,
        default=50,
        help="chunks taken by embedding similarity and passed to the reranker (default 50)",
    )
    search.add_argument("--no-rerank", action="store_true", help="rank by embedding similarity only")
    search.add_argument(
        "--hybrid",
        action="store_true",
        help="recall candidates by embedding and by full text (BM25), fused by reciprocal rank",
    )
    search.add_argument(
        "--rescore",
        type=int,
        default=None,
        help="a binary or float16 index: chunks recalled per candidate (by Hamming distance, or by a float16 "
        "index's RaBitQ estimate), then rescored against the question's float vector; more finds more true "
        f"neighbours, slower (default {DEFAULT_RESCORE} binary, {FLOAT16_RESCORE} float16)",
    )
    search.add_argument("--json", action="store_true", help=SEARCH_JSON_HELP)


def _embed(commands: Commands[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]) -> None:
    embed = commands.add_parser(
        "embed",
        parents=parents,
        help="embed lines of text or JSONL records",
        description="Stream texts from INPUT (or stdin) to a .npy file or JSONL.",
    )
    _stream_options(embed)
    embed.add_argument("--field", default="text", help="JSONL field holding the text (default 'text')")
    embed.add_argument(
        "--queries",
        action="store_true",
        help="embed the texts as queries (task instruction prepended); default: as documents",
    )


def _rerank(commands: Commands[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]) -> None:
    rerank = commands.add_parser(
        "rerank",
        parents=parents,
        help="score (query, document) pairs",
        description="Stream JSONL records with a query and a document (or, with --query, documents alone) and "
        "write each record back with its score.",
    )
    _stream_options(rerank)
    rerank.add_argument("--query", help="one query for every input document")
    rerank.add_argument("--query-field", default="query", help="JSONL field holding the query (default 'query')")
    rerank.add_argument(
        "--document-field", default="document", help="JSONL field holding the document (default 'document')"
    )


def _eval(commands: Commands[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser(
        "eval",
        parents=parents,
        help="evaluate on a BEIR-format dataset",
        description="nDCG@10, Recall@100 and MRR@10 of embedding retrieval and of reranking the embedder's top "
        "candidates, as the Qwen3 release did.",
    )
    evaluate.add_argument(
        "dataset", metavar="DATASET_DIR", help="folder with corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv"
    )
    evaluate.add_argument("--split", default="test", help="qrels file to use (default 'test')")
    evaluate.add_argument("--candidates", type=int, default=100, help="embedding top-N reranked (default 100)")
    evaluate.add_argument("--limit", type=int, default=None, help="evaluate only the first N queries")
    evaluate.add_argument("--no-rerank", action="store_true", help="embedding stage only")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")


def _models(commands: Commands[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]) -> None:
    models = commands.add_parser(
        "models",
        parents=parents,
        help="list the known Qwen3 checkpoints",
        description="The published Qwen3-Embedding and Qwen3-Reranker checkpoints and what is known of each "
        "before a download; any other Qwen3 checkpoint (a fine-tune, a local folder) works too.",
    )
    models.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list, one object per checkpoint: name, the registry's facts (kind, hidden_size, ...), "
        "dims ([smallest, largest] --dim; null for a reranker) and default",
    )


def _output_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--debug", action="store_true", default=default, help="show the full traceback on errors")
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="no progress bars and no summary line"
    )


def _model_options(settings: type[ModelSettings], options: list[SettingOption]) -> argparse.ArgumentParser:
    """A parent parser with the `options` made from the fields of `settings`."""
    parent = argparse.ArgumentParser(add_help=False)
    add_setting_options(parent, settings, options)
    return parent


def _stream_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("input", nargs="?", default="-", metavar="INPUT", help="file to read (default: stdin)")
    command.add_argument(
        "-o", "--output", default="-", help="where to write: a .npy file (embed only) or JSONL; default stdout as JSONL"
    )
    command.add_argument(
        "--format",
        choices=["auto", "text", "jsonl"],
        default="auto",
        help="input format; auto: JSONL for .jsonl/.ndjson files, else one text per line",
    )
    command.add_argument("--block-size", type=int, default=1024, help="records read per step (default 1024)")
