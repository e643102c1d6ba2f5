"""`Qwen3Ranker`: Qwen3-Reranker as a Haystack ranker."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from haystack import Document, component
from haystack.utils import ComponentDevice, Secret

from ...reranker import DEFAULT_RERANKER_MODEL, Ranked, Reranker
from ...validation import check_bool, check_positive_int
from .._shared import RERANKER_SETTINGS, abest, best, check_threshold
from ._component import HF_TOKEN, CoreComponent, document_texts


@component
class Qwen3Ranker(CoreComponent[Reranker]):
    """Order Documents by how well they answer the query, best first, with `score` set to the probability.

    `top_k` and `score_threshold` given to `run` override the init values for that run (a run-time
    value always wins, `0.0` included). Returns copies; the input Documents are not changed.

    Args: see `qwen3_rag.Reranker`; `device` is a Haystack `ComponentDevice` (None: best available);
    `meta_fields_to_embed` values are put before the content, joined by `embedding_separator`.
    `scale_score=False` gives the log-odds as `score` (as Haystack's rankers give raw logits);
    `score_threshold` always applies to the probability.
    """

    core_class = Reranker
    core_settings = tuple(name for name in RERANKER_SETTINGS if name != "device")

    def __init__(
        self,
        model: str = DEFAULT_RERANKER_MODEL,
        device: ComponentDevice | None = None,
        dtype: str | None = None,
        instruction: str | None = None,
        max_length: int = 8192,
        batch_tokens: int | None = None,
        batch_size: int | None = None,
        revision: str | None = None,
        progress_bar: bool = False,
        top_k: int | None = 10,
        score_threshold: float | None = None,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        allow_pickle: bool = False,
        scale_score: bool = True,
        token: Secret | None = HF_TOKEN,
        local_files_only: bool = False,
        base_url: str | None = None,
        api_key: Secret | None = None,
    ):
        if top_k is not None:
            check_positive_int(top_k, "top_k")
        # @component rebuilds the class, which breaks zero-argument super().
        CoreComponent.__init__(
            self,
            model=model,
            device=device,
            dtype=dtype,
            instruction=instruction,
            max_length=max_length,
            batch_tokens=batch_tokens,
            batch_size=batch_size,
            revision=revision,
            progress_bar=progress_bar,
            top_k=top_k,
            score_threshold=check_threshold(score_threshold),
            meta_fields_to_embed=list(meta_fields_to_embed or []),
            embedding_separator=embedding_separator,
            allow_pickle=allow_pickle,
            scale_score=check_bool(scale_score, "scale_score"),
            token=token,
            local_files_only=local_files_only,
            base_url=base_url,
            api_key=api_key,
        )

    @component.output_types(documents=list[Document])
    def run(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, Any]:
        """Rerank: `{"documents": the best top_k copies, best first, each with score}`."""
        documents, texts = document_texts(documents, self.meta_fields_to_embed, self.embedding_separator)
        top_k, score_threshold = self._cut(top_k, score_threshold)
        return self._scored(documents, best(self.core, query, texts, top_k, score_threshold, top_name="top_k"))

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, Any]:
        """`run` without blocking the event loop (an async HTTP client with `base_url=`)."""
        documents, texts = document_texts(documents, self.meta_fields_to_embed, self.embedding_separator)
        top_k, score_threshold = self._cut(top_k, score_threshold)
        ranked = await abest(await self.loaded_async(), query, texts, top_k, score_threshold, top_name="top_k")
        return self._scored(documents, ranked)

    def _cut(self, top_k: int | None, score_threshold: float | None) -> tuple[int | None, float | None]:
        """This run's values, else the init values (a run-time 0.0 wins)."""
        return (
            self.top_k if top_k is None else top_k,
            self.score_threshold if score_threshold is None else score_threshold,
        )

    def _scored(self, documents: list[Document], ranked: list[Ranked]) -> dict[str, Any]:
        return {
            "documents": [replace(documents[r.index], score=r.score if self.scale_score else r.logit) for r in ranked]
        }
