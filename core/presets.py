"""Named task instructions, with whether the task is symmetric (instruction on both sides).

Presets marked "official" use the wording of the official evaluation for that MTEB task (MSMARCO,
NQ, SciFact, QuoraRetrieval, STS), so they reproduce its setup; the others are our wording in the
same style. Any free English string works too.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from types import MappingProxyType

from .errors import InvalidArgumentError
from .registry import DEFAULT_INSTRUCTION


@dataclass(frozen=True)
class Task:
    instruction: str
    symmetric: bool = False  # STS, clustering, classification: every text gets the instruction


PRESETS = MappingProxyType(
    {
        "web_search": Task(DEFAULT_INSTRUCTION),  # official (MSMARCO)
        "question_answering": Task(  # official (NQ)
            "Given a question, retrieve Wikipedia passages that answer the question"
        ),
        "fact_checking": Task("Given a claim, retrieve documents that support or refute the claim"),
        "scientific_claims": Task(  # official (SciFact)
            "Given a scientific claim, retrieve documents that support or refute the claim"
        ),
        "duplicate_questions": Task(  # official (QuoraRetrieval)
            "Given a question, retrieve questions that are semantically equivalent to the given question"
        ),
        "code_search": Task("Given a natural language query, retrieve relevant code snippets"),
        "semantic_similarity": Task("Retrieve semantically similar text", symmetric=True),  # official (STS)
        "bitext_mining": Task("Retrieve parallel sentences", symmetric=True),
    }
)

_IDENTIFIER = re.compile(r"[a-z0-9]+(?:[_-][a-z0-9]+)*")
# The prompt layouts themselves (the embedder's "Instruct: ...\nQuery:" and the reranker's
# "<Instruct>: ... <Query>:"): an instruction holding them would be wrapped twice.
_TEMPLATE = re.compile(r"^\s*<?instruct>?\s*:|^\s*<?query>?\s*:|<\|im_start\|>", re.IGNORECASE | re.MULTILINE)


def resolve_task(instruction: str | None) -> Task:
    """Turn a preset name, a free instruction or None (the default task) into a Task.

    A lowercase identifier that names no preset is taken for a misspelt preset, not for an
    instruction: "web_serch" is an error, never silently embedded as the instruction text.
    """
    if instruction is None:
        return PRESETS["web_search"]
    if not isinstance(instruction, str):
        raise InvalidArgumentError(
            f"instruction must be a preset name or an instruction string, got {type(instruction).__name__}"
        )
    if instruction in PRESETS:
        return PRESETS[instruction]
    if _IDENTIFIER.fullmatch(instruction):
        close = difflib.get_close_matches(instruction, PRESETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidArgumentError(
            f"instruction={instruction!r} is not a known preset ({', '.join(PRESETS)}).{hint} "
            "A free instruction is a sentence, e.g. 'Given a question, retrieve passages that answer it'."
        )
    if not instruction.strip():
        raise InvalidArgumentError("instruction must not be blank; pass None for the default task")
    if _TEMPLATE.search(instruction):
        raise InvalidArgumentError(
            f"instruction={_shortened(instruction)!r} holds the prompt template ('Instruct: ...', 'Query:'); "
            "pass only the task sentence, e.g. instruction='Given a question, retrieve passages that answer it': "
            "qwen3-rag adds the template (and the query) itself"
        )
    return Task(instruction)


def _shortened(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
