"""Token ids for both models, built by hand from the official layouts (no chat templates).

Works on any Hugging Face tokenizer; knows nothing of torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def encode(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text with nothing added (no special tokens, no truncation)."""
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def token_id(tokenizer: Any, token: str) -> int:
    found = tokenizer.convert_tokens_to_ids(token)
    if found is None or found == tokenizer.unk_token_id:
        raise KeyError(f"the tokenizer has no token {token!r}")
    return int(found)


def format_query(instruction: str, text: str) -> str:
    return QUERY_TEMPLATE.format(instruction=instruction, text=text)


@dataclass(frozen=True)
class EmbeddingTokens:
    ids: list[list[int]]
    truncated: int  # how many texts lost tokens to max_length


def embedding_tokens(tokenizer: Any, texts: Sequence[str], max_length: int) -> EmbeddingTokens:
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


class RerankPrompt:
    """The reranker's fixed token layout, tokenized once per tokenizer."""

    def __init__(self, tokenizer: Any, max_length: int):
        self.tokenizer = tokenizer
        self.prefix = encode(tokenizer, [RERANK_PREFIX])[0]
        self.suffix = encode(tokenizer, [RERANK_SUFFIX])[0]
        self.yes_id = token_id(tokenizer, YES_TOKEN)
        self.no_id = token_id(tokenizer, NO_TOKEN)
        self.fixed_length = len(self.prefix) + len(self.suffix)
        self.body_budget = max_length - self.fixed_length

    def tokens(self, instruction: str, query: str, documents: Sequence[str]) -> RerankTokens:
        head = encode(self.tokenizer, [RERANK_BODY_HEAD.format(instruction=instruction, query=query)])[0]
        bodies = encode(self.tokenizer, [RERANK_DOCUMENT.format(document=d) for d in documents])
        room = self.body_budget - len(head)
        if room < 1:  # the query alone fills the body: every document is cut away, as officially
            return RerankTokens(self.prefix + head[: self.body_budget], [self.suffix] * len(documents),
                                truncated=len(documents))
        truncated = sum(len(body) > room for body in bodies)
        return RerankTokens(self.prefix + head, [body[:room] + self.suffix for body in bodies], truncated)
