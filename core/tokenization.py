"""Token ids for both models, built by hand from the official layouts (no chat templates).

Only the package places control tokens: user text (queries, documents, instructions) is always
tokenized as plain text, so a document that spells `<|im_end|>` cannot close the prompt's turn.
For text without such strings the ids are exactly the official ones. Knows nothing of torch.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from tokenizers import Tokenizer

from .errors import InvalidArgumentError
from .registry import (
    END_OF_TEXT,
    NO_TOKEN,
    QUERY_TEMPLATE,
    RERANK_BODY_HEAD,
    RERANK_DOCUMENT,
    RERANK_PREFIX,
    RERANK_SUFFIX,
    YES_TOKEN,
)


def encode(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of user-bearing texts, added-token strings included, as plain text; nothing appended."""
    if not texts:
        return []
    return [encoding.ids for encoding in plain_text_tokenizer(tokenizer).encode_batch(list(texts))]


def encode_template(tokenizer: Tokenizer, text: str) -> list[int]:
    """Token ids of one of the package's own prompt parts, whose control tokens are meant."""
    return list(tokenizer.encode(text, add_special_tokens=False).ids)


_plain: weakref.WeakKeyDictionary[Tokenizer, Tokenizer] = weakref.WeakKeyDictionary()
_plain_lock = threading.Lock()


def plain_text_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """The same normaliser, pre-tokeniser and BPE with the added tokens (the control strings) taken out.

    Built around the loaded tokenizer's own BPE model object (shared, not copied), so it costs
    nothing; a round trip through the tokenizer's JSON took 1.5 s with the 151k-token vocabulary.
    """
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"qwen3-rag needs a Rust tokenizer (tokenizers.Tokenizer), got {type(tokenizer).__name__}")
    with _plain_lock:
        plain = _plain.get(tokenizer)
        if plain is None:
            plain = Tokenizer(tokenizer.model)  # no added tokens, post-processor, truncation or padding
            for part in ("normalizer", "pre_tokenizer", "decoder"):
                if getattr(tokenizer, part) is not None:
                    setattr(plain, part, getattr(tokenizer, part))
            _plain[tokenizer] = plain
        return plain


def token_id(tokenizer: Tokenizer, token: str) -> int:
    found = tokenizer.token_to_id(token)
    if found is None:
        raise KeyError(f"the tokenizer has no token {token!r}")
    return int(found)


def format_query(instruction: str, text: str) -> str:
    return QUERY_TEMPLATE.format(instruction=instruction, text=text)


@dataclass(frozen=True)
class EmbeddingTokens:
    ids: list[list[int]]
    truncated: int  # how many texts lost tokens to max_length

    def warn_if_cut(self, max_length: int, stacklevel: int) -> None:
        _warn_if_cut(self.truncated, f"{len(self.ids)} texts were longer than", max_length, stacklevel + 1)


def embedding_tokens(tokenizer: Tokenizer, texts: Sequence[str], max_length: int) -> EmbeddingTokens:
    """Ids that always end with <|endoftext|>, whether or not the tokenizer appends it.

    Texts are cut on the right to `max_length - 1` tokens before the closing token, which is
    what the official tokenizer's post-processor does under `truncation=True`.
    """
    eot = token_id(tokenizer, END_OF_TEXT)
    ids, truncated = [], 0
    for text_ids in encode(tokenizer, texts):
        if len(text_ids) > max_length - 1:
            text_ids = text_ids[: max_length - 1]
            truncated += 1
        ids.append([*text_ids, eot])
    return EmbeddingTokens(ids, truncated)


@dataclass(frozen=True)
class RerankTokens:
    """One query's reranker input: a shared head and one tail per document.

    `head + tails[i]` equals the official `prefix + truncated body + suffix` for document i. The
    head ends right after "<Document>:"; documents are tokenized with their leading space, which
    starts a new pre-token, so the split leaves every id unchanged.
    """

    head: list[int]
    tails: list[list[int]]
    truncated: int

    def warn_if_cut(self, max_length: int, stacklevel: int) -> None:
        _warn_if_cut(self.truncated, f"{len(self.tails)} documents did not fit", max_length, stacklevel + 1)


def _warn_if_cut(truncated: int, what: str, max_length: int, stacklevel: int) -> None:
    """One warning per call with the count, so that nothing is cut without the caller knowing."""
    if truncated:
        warnings.warn(
            f"{truncated} of {what} max_length={max_length} tokens and were cut on the right",
            stacklevel=stacklevel + 1,
        )


class RerankPrompt:
    """The reranker's fixed token layout, tokenized once per tokenizer."""

    def __init__(self, tokenizer: Tokenizer, max_length: int):
        self.tokenizer = tokenizer
        self.prefix = encode_template(tokenizer, RERANK_PREFIX)
        self.suffix = encode_template(tokenizer, RERANK_SUFFIX)
        self.yes_id = token_id(tokenizer, YES_TOKEN)
        self.no_id = token_id(tokenizer, NO_TOKEN)
        self.fixed_length = len(self.prefix) + len(self.suffix)
        self.body_budget = max_length - self.fixed_length
        if self.body_budget < 1:
            raise InvalidArgumentError(
                f"max_length={max_length} leaves no room for the query and document: the reranker's fixed "
                f"prompt takes {self.fixed_length} tokens; use at least {self.fixed_length + 1}"
            )

    def tokens(self, instruction: str, query: str, documents: Sequence[str]) -> RerankTokens:
        head = encode(self.tokenizer, [RERANK_BODY_HEAD.format(instruction=instruction, query=query)])[0]
        bodies = encode(self.tokenizer, [RERANK_DOCUMENT.format(document=d) for d in documents])
        room = self.body_budget - len(head)
        if room < 1:  # the query alone fills the body: every document is cut away, as officially
            return RerankTokens(
                self.prefix + head[: self.body_budget], [self.suffix] * len(documents), truncated=len(documents)
            )
        truncated = sum(len(body) > room for body in bodies)
        return RerankTokens(self.prefix + head, [body[:room] + self.suffix for body in bodies], truncated)
