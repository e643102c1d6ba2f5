"""Which checkpoint a setting names, and its tokenizer and config, without torch or its weights.

This is what the remote client and the index need from a checkpoint: `read_tokenizer` reads the
files (`contents.py`) or, where those differ from the standard layout, lets transformers' tokenizer
and config classes read them, and checks that the tokenizer is a Qwen3 one. The kernels load the
weights on top of this (`kernels/loading.py`).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from huggingface_hub.errors import StrictDataclassError
from packaging.version import Version
from tokenizers import Tokenizer

from ..errors import InvalidArgumentError, ModelLoadError
from ..registry import END_OF_TEXT
from ..tokenization import token_id
from .contents import read_checkpoint
from .hub import resolve_access
from .identity import check_role

# How transformers reports checkpoint files it cannot use; its config classes validate themselves
# through huggingface_hub's strict dataclasses, whose errors are plain Exceptions.
UNUSABLE_FILES = (OSError, ValueError, StrictDataclassError)

Kind = Literal["embedding", "reranker"]
LOADER_VARIABLE = "QWEN3_RAG_LOADER"  # "transformers" turns the direct loader off (read at each load)
BYTE_TOKENS = 256  # a byte-level BPE's vocabulary starts with one token per byte
MIN_TRANSFORMERS = Version("5.0.0")  # the cache-layer API the reranker kernel builds on


def at_revision(revision: str | None) -> str:
    return f" at revision {revision!r}" if revision else ""


def normalise_source(source: str) -> str:
    if not isinstance(source, str | os.PathLike):
        raise ModelLoadError(f"model must be a hub id or a local directory, got {type(source).__name__}")
    text = os.fspath(source)
    if os.path.isdir(text):
        return os.path.realpath(text)
    looks_like_path = text.startswith((".", "/", "~", "\\")) or text.count("/") > 1 or os.path.exists(text)
    if looks_like_path:
        raise ModelLoadError(
            f"model={text!r} is not an existing directory (nor a hub id like 'Qwen/Qwen3-Embedding-0.6B')"
        )
    return text


def direct_allowed() -> bool:
    setting = os.environ.get(LOADER_VARIABLE, "auto").strip().lower() or "auto"
    if setting not in ("auto", "transformers"):
        raise InvalidArgumentError(
            f"${LOADER_VARIABLE}={setting!r} is not a loader; use 'auto' (the default: read "
            "standard checkpoints directly) or 'transformers'"
        )
    return setting == "auto"


def read_tokenizer(
    kind: Kind,
    source: str,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> tuple[Tokenizer, Any]:
    """The tokenizer and config (its `hidden_size`, `vocab_size`) of a checkpoint, without its weights
    (for a model served elsewhere)."""
    source = normalise_source(source)
    check_role(kind, source)
    access = resolve_access(kind, source, revision, token, local_files_only)
    checkpoint = read_checkpoint(source, access) if direct_allowed() else None
    if checkpoint is not None:
        check_tokenizer(source, checkpoint.tokenizer, checkpoint.shape)
        return checkpoint.tokenizer, checkpoint.shape
    transformers = transformers_module()
    common = {**access, "trust_remote_code": False}
    try:
        config = transformers.AutoConfig.from_pretrained(source, **common)
        check_qwen3(source, config)
        tokenizer = rust_tokenizer(transformers.AutoTokenizer.from_pretrained(source, **common))
    except UNUSABLE_FILES as error:
        raise ModelLoadError(
            f"could not load the tokenizer of {kind} model {source!r}{at_revision(revision)}: {error}"
        ) from error
    check_tokenizer(source, tokenizer, config)
    return tokenizer, config


def transformers_module() -> Any:
    """transformers, imported on first use (seconds on a small CPU) and checked for the API used here."""
    import transformers

    if Version(transformers.__version__) < MIN_TRANSFORMERS:
        raise ModelLoadError(
            f"transformers {transformers.__version__} is too old for qwen3-rag; install "
            f"'transformers>={MIN_TRANSFORMERS}'"
        )
    return transformers


def rust_tokenizer(tokenizer: Any) -> Tokenizer:
    """The Rust tokenizer inside a transformers one, with no truncation or padding of its own."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer):
        raise ModelLoadError(f"qwen3-rag needs a fast (Rust) tokenizer, got {type(tokenizer).__name__}")
    backend.no_truncation()
    backend.no_padding()
    return backend


def check_qwen3(source: str, config: Any) -> None:
    if config.model_type != "qwen3":
        raise ModelLoadError(
            f"{source} is a {config.model_type!r} model; qwen3-rag runs Qwen3-Embedding and "
            "Qwen3-Reranker checkpoints (model_type 'qwen3')"
        )


def check_tokenizer(source: str, tokenizer: Tokenizer, config: Any) -> None:
    """A byte-level BPE with the closing token, inside the model's vocabulary, or a clear error.

    Without tokenizer files transformers still returns a tokenizer (a one-token vocabulary), and a
    mismatched one would produce ids the embedding table does not have.
    """
    try:
        end_of_text = token_id(tokenizer, END_OF_TEXT)
    except KeyError:
        end_of_text = None
    base, size = tokenizer.get_vocab_size(with_added_tokens=False), tokenizer.get_vocab_size(with_added_tokens=True)
    if end_of_text is None or base < BYTE_TOKENS or size > config.vocab_size:
        found = (
            "no '<|endoftext|>' token"
            if end_of_text is None
            else (
                f"a vocabulary of {base} tokens, not a byte-level BPE"
                if base < BYTE_TOKENS
                else f"{size} tokens for a model of {config.vocab_size}"
            )
        )
        raise ModelLoadError(
            f"{source} has no usable Qwen3 tokenizer ({found}): its tokenizer files "
            "(tokenizer.json, tokenizer_config.json) are missing or belong to another model; copy "
            "them from the same hub checkpoint"
        )
