"""`Qwen3Rerank`: Qwen3-Reranker as a LlamaIndex `BaseNodePostprocessor`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle
from pydantic import Field

from ...errors import InvalidArgumentError
from ...reranker import Ranked
from ...validation import check_items
from .._fields import RerankerFields

dispatcher = get_dispatcher(__name__)


class Qwen3Rerank(RerankerFields, BaseNodePostprocessor):
    """Keep the `top_n` nodes that best answer the query, best first, scored by Qwen3-Reranker.

    The reranker reads each node's content as LlamaIndex would embed it (`metadata_mode`), and
    returns new `NodeWithScore` objects holding the reranker's probability; the nodes passed in
    keep their retrieval scores.

    ```python
    engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[Qwen3Rerank(top_n=5)])
    ```
    """

    metadata_mode: MetadataMode = Field(default=MetadataMode.EMBED, description="Which metadata the reranker reads.")
    keep_retrieval_score: bool = Field(
        default=False,
        description="Also keep each node's retrieval score as metadata['retrieval_score'] "
        "(on a copy of the node), as LlamaIndex's own rerankers do.",
    )

    @classmethod
    def class_name(cls) -> str:
        return "Qwen3Rerank"

    def _model_name(self) -> str:
        return self.core.name

    @dispatcher.span
    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, nodes = self._checked(nodes, query_bundle)
        if not nodes:
            return []
        with self._reranking(nodes, query) as done:
            return done(self._cut().best(self.core, query.query_str, self._texts(nodes)))

    @dispatcher.span
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """The same, awaiting the reranker (an async HTTP client with `base_url=`, else a worker thread)."""
        query, nodes = self._checked(nodes, query_bundle)
        if not nodes:
            return []
        with self._reranking(nodes, query) as done:
            return done(await self._cut().abest(self.core, query.query_str, self._texts(nodes)))

    @staticmethod
    def _checked(nodes: object, query_bundle: QueryBundle | None) -> tuple[QueryBundle, list[NodeWithScore]]:
        if query_bundle is None:
            raise InvalidArgumentError(
                "Qwen3Rerank needs a query: call postprocess_nodes(nodes, query_str=...) or pass query_bundle="
            )
        return query_bundle, check_items(nodes, NodeWithScore, "nodes")

    def _texts(self, nodes: list[NodeWithScore]) -> list[str]:
        return [scored.node.get_content(metadata_mode=self.metadata_mode) for scored in nodes]

    @contextlib.contextmanager
    def _reranking(
        self, nodes: list[NodeWithScore], query: QueryBundle
    ) -> Iterator[Callable[[list[Ranked]], list[NodeWithScore]]]:
        """LlamaIndex's rerank events around the scoring; yields what turns a ranking into the result."""
        dispatcher.event(ReRankStartEvent(query=query, nodes=nodes, top_n=self.top_n, model_name=self._model_name()))
        payload = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self._model_name(),
            EventPayload.QUERY_STR: query.query_str,
            EventPayload.TOP_K: self.top_n,
        }
        result: list[NodeWithScore] = []

        def done(ranked: list[Ranked]) -> list[NodeWithScore]:
            result.extend(NodeWithScore(node=self._node_of(nodes[r.index]), score=r.score) for r in ranked)
            event.on_end(payload={EventPayload.NODES: result})
            return result

        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            yield done
        dispatcher.event(ReRankEndEvent(nodes=result))

    def _node_of(self, scored: NodeWithScore) -> BaseNode:
        """The node to return: the retrieved one, or a copy carrying its retrieval score (never mutated)."""
        if not self.keep_retrieval_score:
            return scored.node
        return scored.node.model_copy(update={"metadata": {**scored.node.metadata, "retrieval_score": scored.score}})
