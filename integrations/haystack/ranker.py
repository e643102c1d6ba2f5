"""`Qwen3Ranker`: Qwen3-Reranker as a Haystack ranker."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Unpack

from haystack import Document, component

from ...reranker import DEFAULT_RERANKER_MODEL, Ranked, Reranker
from ...settings import RerankerSettings
from ...validation import check_bool, check_positive_int
from .._shared import Cut, check_threshold
from ._component import CoreComponent, RankerComponentOptions, document_texts


@component
class Qwen3Ranker(CoreComponent[Reranker]):
    """Order Documents by how well they answer the query, best first, with `score` set to the probability.

    `top_k` and `score_threshold` given to `run` override the init values for that run (a run-time
    value always wins, `0.0` included). Returns copies; the input Documents are not changed.

    Args: the settings of `qwen3_rag.Reranker` (or, with `base_url`, `RemoteReranker`) by name; `device` is a
    Haystack `ComponentDevice` (None: best available) and `token`/`api_key` Haystack `Secret`s;
    `meta_fields_to_embed` values are put before the content, joined by `embedding_separator`.
    `scale_score=False` gives the log-odds as `score` (as Haystack's rankers give raw logits);
    `score_threshold` always applies to the probability.
    """

    settings_class = RerankerSettings
    options = RankerComponentOptions

    def __init__(
        self,
        model: str = DEFAULT_RERANKER_MODEL,
        *,
        top_k: int | None = 10,
        score_threshold: float | None = None,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        scale_score: bool = True,
        **settings: Unpack[RankerComponentOptions],
    ):
        own = {
            "model": model,
            "top_k": top_k if top_k is None else check_positive_int(top_k, "top_k"),
            "score_threshold": check_threshold(score_threshold),
            "meta_fields_to_embed": list(meta_fields_to_embed or []),
            "embedding_separator": embedding_separator,
            "scale_score": check_bool(scale_score, "scale_score"),
        }
        CoreComponent.__init__(self, own, settings)  # @component rebuilds the class: no zero-argument super()

    @component.output_types(documents=list[Document])
    def run(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, Any]:
        """Rerank: `{"documents": the best top_k copies, best first, each with score}`."""
        documents, texts = document_texts(documents, self.meta_fields_to_embed, self.embedding_separator)
        return self._scored(documents, self._cut(top_k, score_threshold).best(self.core, query, texts))

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, Any]:
        """`run` without blocking the event loop (an async HTTP client with `base_url=`)."""
        documents, texts = document_texts(documents, self.meta_fields_to_embed, self.embedding_separator)
        ranked = await self._cut(top_k, score_threshold).abest(await self.loaded_async(), query, texts)
        return self._scored(documents, ranked)

    def _cut(self, top_k: int | None, score_threshold: float | None) -> Cut:
        """This run's values, else the init values (a run-time 0.0 wins)."""
        return Cut(
            self.top_k if top_k is None else top_k,
            self.score_threshold if score_threshold is None else score_threshold,
            top_name="top_k",
        )

    def _scored(self, documents: list[Document], ranked: list[Ranked]) -> dict[str, Any]:
        return {
            "documents": [replace(documents[r.index], score=r.score if self.scale_score else r.logit) for r in ranked]
        }
