"""Copying and pickling every core object and adapter: the frameworks do both (chains, pipelines,
Ray tasks). A copy in this process shares the loaded weights; one in another process loads them."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import numpy as np
import pytest
from haystack import Document

from qwen3_rag import Embedder, Reranker
from qwen3_rag.integrations.haystack import Qwen3DocumentEmbedder, Qwen3Ranker, Qwen3TextEmbedder
from qwen3_rag.integrations.langchain import Qwen3Embeddings, Qwen3Rerank
from qwen3_rag.integrations.llama_index import Qwen3Embedding
from qwen3_rag.integrations.llama_index import Qwen3Rerank as LlamaIndexRerank

COPIES = {"deepcopy": copy.deepcopy, "copy": copy.copy, "pickle": lambda o: pickle.loads(pickle.dumps(o))}


def _adapters(models):
    text_embedder, ranker = Qwen3TextEmbedder(model=models.embedding), Qwen3Ranker(model=models.reranker, top_k=2)
    text_embedder.warm_up(), ranker.warm_up()
    documents = [Document(content="Beijing is the capital of China."), Document(content="Gravity pulls.")]
    return {
        "Embedder": (Embedder(models.embedding, device="cpu", dim=32), lambda o: o.embed_queries(["q"]).tolist()),
        "Reranker": (Reranker(models.reranker, device="cpu"), lambda o: o.logits("q", ["a", "b"]).tolist()),
        "langchain embeddings": (Qwen3Embeddings(model=models.embedding, device="cpu"), lambda o: o.embed_query("q")),
        "langchain rerank": (
            Qwen3Rerank(model=models.reranker, device="cpu", top_n=1),
            lambda o: [d.page_content for d in o.compress_documents(_lc_documents(), "capital")],
        ),
        "llama_index embedding": (
            Qwen3Embedding(model=models.embedding, device="cpu"),
            lambda o: o.get_query_embedding("q"),
        ),
        "llama_index rerank": (
            LlamaIndexRerank(model=models.reranker, device="cpu", top_n=1),
            lambda o: [n.node.get_content() for n in o.postprocess_nodes(_li_nodes(), query_str="capital")],
        ),
        "haystack text embedder": (text_embedder, lambda o: o.run("q")["embedding"]),
        "haystack document embedder": (
            Qwen3DocumentEmbedder(model=models.embedding, progress_bar=False),
            lambda o: [d.embedding for d in o.run(documents)["documents"]],
        ),
        "haystack ranker": (ranker, lambda o: [d.score for d in o.run("capital", documents)["documents"]]),
    }


def _lc_documents():
    from langchain_core.documents import Document as LangChainDocument

    return [LangChainDocument(page_content=t) for t in ["Beijing is the capital of China.", "Gravity pulls."]]


def _li_nodes():
    from llama_index.core.schema import NodeWithScore, TextNode

    return [
        NodeWithScore(node=TextNode(text=t, id_=t[:5]), score=0.0)
        for t in ["Beijing is the capital of China.", "Gravity pulls."]
    ]


@pytest.mark.parametrize("how", sorted(COPIES))
def test_every_object_copies_and_pickles_and_answers_the_same(tiny_models, how):
    for name, (original, answer) in _adapters(tiny_models).items():
        copied = COPIES[how](original)
        assert type(copied) is type(original), name
        assert answer(copied) == answer(original), name


def test_a_copy_in_this_process_shares_the_weights(tiny_models):
    embedder = Embedder(tiny_models.embedding, device="cpu", dim=32, instruction="code_search")
    for copied in (copy.deepcopy(embedder), pickle.loads(pickle.dumps(embedder))):
        assert copied.model is embedder.model and (copied.dim, copied.instruction) == (32, embedder.instruction)


def test_a_pickle_loads_the_model_again_in_another_process(tiny_models, tmp_path):
    embedder = Embedder(tiny_models.embedding, device="cpu", dim=48)
    (tmp_path / "embedder.pkl").write_bytes(pickle.dumps(embedder))
    code = (
        "import pickle, sys, numpy\n"
        "embedder = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "numpy.save(sys.argv[2], embedder.embed_documents(['same text']))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "embedder.pkl"), str(tmp_path / "v.npy")], check=True)
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), embedder.embed_documents(["same text"]), rtol=0, atol=1e-6)
