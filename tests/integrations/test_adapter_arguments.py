"""Adapters take the names users bring from the frameworks' own integrations, and ignore nothing."""

from __future__ import annotations

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from qwen3_rag.integrations.langchain import Qwen3Embeddings
from qwen3_rag.integrations.langchain import Qwen3Rerank as LangChainRerank
from qwen3_rag.integrations.llama_index import Qwen3Embedding
from qwen3_rag.integrations.llama_index import Qwen3Rerank as LlamaIndexRerank


def test_familiar_names_mean_ours(tiny_models):
    langchain = Qwen3Embeddings(model_name=tiny_models.embedding, device="cpu", show_progress=True, truncate_dim=32)
    assert langchain.core.model.key.source == tiny_models.embedding  # not the default 0.6B checkpoint
    assert (langchain.progress_bar, langchain.dim, len(langchain.embed_query("q"))) == (True, 32, 32)
    llama = Qwen3Embedding(model_name=tiny_models.embedding, device="cpu")
    assert llama.core.model.key.source == llama.model_name == tiny_models.embedding  # reports what it runs
    assert Qwen3Embedding(model=tiny_models.embedding, device="cpu").model_name == tiny_models.embedding


@pytest.mark.parametrize("adapter", [Qwen3Embeddings, Qwen3Embedding])
@pytest.mark.parametrize(
    "argument, value, message",
    [
        ("query_instruction", "Instruct: Given a query\nQuery:", "takes no query_instruction=: pass only the task"),
        ("text_instruction", "passage: ", "takes no text_instruction=: documents get no instruction"),
        ("model_kwargs", {"device": "cpu"}, "takes no model_kwargs=: pass device=, dtype="),
        ("encode_kwargs", {"batch_size": 8}, "takes no encode_kwargs=: pass batch_size="),
        ("normalize", False, "takes no normalize=: vectors are always L2-normalised"),
        ("precision", "binary", "takes no precision=: LangChain and LlamaIndex take float vectors; quantized vectors"),
        ("modle", "typo", "got unknown argument\\(s\\) modle; its settings are .*model"),
    ],
)
def test_arguments_that_would_be_ignored_are_refused_by_name(adapter, tiny_models, argument, value, message):
    with pytest.raises(ValueError, match=message):
        adapter(model=tiny_models.embedding, device="cpu", **{argument: value})


def test_disagreeing_names_and_late_changes_raise(tiny_models, embedder):
    with pytest.raises(ValueError, match="model_name='other' and model=.* disagree; pass only model="):
        Qwen3Embeddings(model=tiny_models.embedding, model_name="other", device="cpu")
    with pytest.raises(ValueError, match="takes no top_k=: the number of documents kept is top_n="):
        LangChainRerank(model=tiny_models.reranker, device="cpu", top_k=3)
    embeddings = Qwen3Embeddings(embedder=embedder)
    for name, value in [("dim", 32), ("instruction", "code_search"), ("model", "other"), ("embedder", None)]:
        with pytest.raises(AttributeError, match=f"{name} is fixed once Qwen3Embeddings has loaded its model"):
            setattr(embeddings, name, value)
    rerank = LangChainRerank(model=tiny_models.reranker, device="cpu")
    rerank.top_n = 1  # read at every call: takes effect
    assert len(rerank.compress_documents(_documents(), "q")) == 1


def test_llama_index_keep_retrieval_score_copies_the_nodes(reranker):
    nodes = [
        NodeWithScore(node=TextNode(text=text, id_=str(i)), score=0.5 - i / 10)
        for i, text in enumerate(["Beijing is the capital of China.", "Gravity pulls.", "Paris is in France."])
    ]
    kept = LlamaIndexRerank(reranker=reranker, top_n=3, keep_retrieval_score=True).postprocess_nodes(
        nodes, query_str="capital of China"
    )
    retrieval = {n.node.node_id: n.score for n in nodes}
    assert {k.node.node_id: k.node.metadata["retrieval_score"] for k in kept} == retrieval
    assert all("retrieval_score" not in n.node.metadata for n in nodes)  # the caller's nodes are untouched


def _documents():
    from langchain_core.documents import Document

    return [Document(page_content=text) for text in ["Beijing is the capital.", "Gravity pulls.", "Paris."]]


@pytest.mark.parametrize("adapter", [Qwen3Embeddings, Qwen3Embedding, LangChainRerank, LlamaIndexRerank])
def test_hub_token_and_local_files_only_reach_the_core_and_the_token_is_never_shown(adapter, tiny_models):
    model = tiny_models.reranker if "Rerank" in adapter.__name__ else tiny_models.embedding
    wrapped = adapter(model=model, device="cpu", token="hf_secret_value", local_files_only=True)
    assert wrapped.core.settings.token == "hf_secret_value" and wrapped.core.settings.local_files_only
    assert "hf_secret_value" not in repr(wrapped) and "hf_secret_value" not in str(wrapped.model_dump())
