"""LlamaIndex: a VectorStoreIndex over Qwen3-Embedding, reranked by Qwen3-Reranker, with no LLM service.

pip install "qwen3-rag[llama-index]"
python examples/llama_index_rag.py                  # hub models (downloads ~2.4 GB once)
python examples/llama_index_rag.py --embedding-model ./my-embedder --reranker-model ./my-reranker
"""

from __future__ import annotations

from example_data import FACTS, QUESTIONS, model_arguments
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.llms import MockLLM

from qwen3_rag.integrations.llama_index import Qwen3Embedding, Qwen3Rerank


def main() -> None:
    args = model_arguments(__doc__)

    Settings.llm = MockLLM()  # retrieval only here; put your LLM in Settings.llm to get answers
    Settings.embed_model = Qwen3Embedding(model=args.embedding_model, device=args.device)
    index = VectorStoreIndex.from_documents([Document(text=fact) for fact in FACTS])
    engine = index.as_query_engine(
        similarity_top_k=4, node_postprocessors=[Qwen3Rerank(model=args.reranker_model, device=args.device, top_n=2)]
    )
    for question in QUESTIONS:
        print(f"\n{question}")
        for source in engine.query(question).source_nodes:
            print(f"  {source.score:.4f}  {source.node.get_content()}")


if __name__ == "__main__":
    main()
