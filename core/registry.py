"""Model facts kept as data: special tokens, prompt templates and the known checkpoints.

Everything here comes from the official release (see the Qwen3-Embedding report and model cards);
code looks facts up here instead of repeating literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

END_OF_TEXT = "<|endoftext|>"  # id 151643: ends every embedded sequence and pads; not the eos_token
YES_TOKEN = "yes"  # id 9693 on the real vocabulary
NO_TOKEN = "no"  # id 2152

DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
DEFAULT_RERANKER_MODEL = "Qwen/Qwen3-Reranker-0.6B"
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
MIN_EMBEDDING_DIM = 32  # smallest Matryoshka dimension the models were trained for

QUERY_TEMPLATE = "Instruct: {instruction}\nQuery:{text}"  # no space after "Query:", as in the official code

RERANK_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
RERANK_BODY_HEAD = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>:"
RERANK_DOCUMENT = " {document}"  # the space after "<Document>:" opens the document's first pre-token
RERANK_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


@dataclass(frozen=True)
class Checkpoint:
    """What is known about a published checkpoint before its weights are downloaded."""

    kind: str  # "embedding" or "reranker"
    hidden_size: int
    layers: int


KNOWN_CHECKPOINTS = MappingProxyType(
    {
        "Qwen/Qwen3-Embedding-0.6B": Checkpoint("embedding", 1024, 28),
        "Qwen/Qwen3-Embedding-4B": Checkpoint("embedding", 2560, 36),
        "Qwen/Qwen3-Embedding-8B": Checkpoint("embedding", 4096, 36),
        "Qwen/Qwen3-Reranker-0.6B": Checkpoint("reranker", 1024, 28),
        "Qwen/Qwen3-Reranker-4B": Checkpoint("reranker", 2560, 36),
        "Qwen/Qwen3-Reranker-8B": Checkpoint("reranker", 4096, 36),
    }
)
"""The published Qwen3-Embedding and Qwen3-Reranker checkpoints by hub id, each with what is known of it
before any download (`Checkpoint`: kind, hidden size = the full vector size and the largest `dim`, layers).
Read-only: these are the release's facts. Settings check `dim` against them without loading weights; any other
Qwen3 checkpoint (a fine-tune, a local directory) loads too. `from qwen3_rag import KNOWN_CHECKPOINTS`.
"""
