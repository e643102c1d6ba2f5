"""Haystack components: the init/to_dict/from_dict/warm_up/run quintet, asymmetry, overrides, bad input."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys

import numpy as np
import pytest
from conftest import CORPUS, QUESTION, VARIED_TEXTS
from haystack import Document
from haystack.utils import ComponentDevice, Secret

from qwen3_rag import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL, InvalidArgumentError, InvalidInputError
from qwen3_rag.integrations.haystack import Qwen3DocumentEmbedder, Qwen3Ranker, Qwen3TextEmbedder

CPU = ComponentDevice.from_str("cpu")


@pytest.fixture(scope="module")
def text_embedder(tiny_models):
    return Qwen3TextEmbedder(model=tiny_models.embedding, device=CPU)


@pytest.fixture(scope="module")
def document_embedder(tiny_models):
    return Qwen3DocumentEmbedder(model=tiny_models.embedding, device=CPU, meta_fields_to_embed=["title"])


@pytest.fixture(scope="module")
def ranker(tiny_models):
    return Qwen3Ranker(model=tiny_models.reranker, device=CPU, top_k=3)


def documents():
    return [
        Document(content=text, id=str(i), meta={"title": f"Fact {i}"} if i % 2 else {}) for i, text in enumerate(CORPUS)
    ]


@pytest.mark.parametrize(
    "component_class, model",
    [
        (Qwen3TextEmbedder, DEFAULT_EMBEDDING_MODEL),
        (Qwen3DocumentEmbedder, DEFAULT_EMBEDDING_MODEL),
        (Qwen3Ranker, DEFAULT_RERANKER_MODEL),
    ],
)
def test_init_defaults_load_nothing(component_class, model):
    component = component_class()
    assert component.model == model and component.device is None and component._core is None
    assert component.to_dict()["init_parameters"]["max_length"] == 8192


@pytest.mark.parametrize(
    "component_class, extra",
    [
        (Qwen3TextEmbedder, {"dim": 32, "instruction": "code_search"}),
        (Qwen3DocumentEmbedder, {"meta_fields_to_embed": ["title"], "embedding_separator": " | ", "batch_size": 4}),
        (Qwen3Ranker, {"top_k": 2, "score_threshold": 0.25, "instruction": "question_answering"}),
    ],
)
def test_to_dict_from_dict_round_trip(component_class, extra):
    component = component_class(
        model="some/model", device=ComponentDevice.from_str("cuda:1"), dtype="bfloat16", **extra
    )
    data = component.to_dict()
    assert data["type"] == f"{component_class.__module__}.{component_class.__name__}"
    assert data["init_parameters"]["device"] == {"type": "single", "device": "cuda:1"}
    assert all(data["init_parameters"][name] == value for name, value in extra.items())
    assert data["init_parameters"]["token"] == {
        "type": "env_var",
        "env_vars": ["HF_API_TOKEN", "HF_TOKEN"],
        "strict": False,
    }
    restored = component_class.from_dict(copy.deepcopy(data))  # Haystack deserialises secrets in place
    assert restored.to_dict() == data and restored.device == component.device
    assert isinstance(restored.token, Secret)


@pytest.mark.parametrize("component_class", [Qwen3TextEmbedder, Qwen3DocumentEmbedder, Qwen3Ranker])
def test_token_is_a_secret_that_reaches_the_hub_and_never_the_yaml(component_class, tiny_models, monkeypatch):
    with pytest.raises(InvalidArgumentError, match="token must be a haystack Secret"):
        component_class(token="hf_plain_string")
    with pytest.raises(ValueError, match="[Cc]annot serialize token-based secret"):
        component_class(token=Secret.from_token("hf_by_value")).to_dict()  # Haystack's own rule for secrets
    model = tiny_models.embedding if component_class is not Qwen3Ranker else tiny_models.reranker
    monkeypatch.setenv("QWEN3_RAG_TEST_TOKEN", "hf_from_env")
    component = component_class(
        model=model, device=CPU, token=Secret.from_env_var("QWEN3_RAG_TEST_TOKEN"), local_files_only=True
    )
    component.warm_up()
    assert component.core.settings.token == "hf_from_env" and component.core.settings.local_files_only
    assert "hf_from_env" not in str(component.to_dict())


def test_warm_up_loads_once_and_embedders_share_the_model(text_embedder, document_embedder, ranker):
    for component in (text_embedder, document_embedder, ranker):
        component.warm_up()
        first = component._core
        component.warm_up()
        assert component._core is first
    assert text_embedder.core.model is document_embedder.core.model


def test_text_embedder_is_the_query_side(text_embedder, embedder):
    for text in VARIED_TEXTS:
        embedding = text_embedder.run(text=text)["embedding"]
        assert all(type(value) is float for value in embedding)
        np.testing.assert_array_equal(np.float32(embedding), embedder.embed_queries([text])[0])


def test_document_embedder_is_the_document_side_with_meta(document_embedder, tiny_models, embedder):
    inputs = documents()
    out = document_embedder.run(documents=inputs)["documents"]
    texts = [f"{d.meta['title']}\n{d.content}" if "title" in d.meta else d.content for d in inputs]
    np.testing.assert_array_equal(np.float32([d.embedding for d in out]), embedder.embed_documents(texts))
    assert all(d.embedding is None for d in inputs)  # copies, the inputs are untouched
    plain = Qwen3DocumentEmbedder(model=tiny_models.embedding, device=CPU).run(documents=inputs)["documents"]
    np.testing.assert_array_equal(np.float32([d.embedding for d in plain]), embedder.embed_documents(CORPUS))
    assert [d.id for d in out] == [d.id for d in inputs]


def test_ranker_orders_copies_like_the_core(ranker, reranker):
    inputs = [Document(content=text, id=str(i)) for i, text in enumerate(CORPUS)]
    out = ranker.run(query=QUESTION, documents=inputs)["documents"]
    expected = reranker.rerank(QUESTION, CORPUS, top_k=3)
    assert [d.id for d in out] == [str(r.index) for r in expected]
    assert [d.score for d in out] == [r.score for r in expected]
    assert all(d.score is None for d in inputs)


def test_run_time_values_override_init_values(tiny_models, reranker):
    ranker = Qwen3Ranker(model=tiny_models.reranker, device=CPU, top_k=2, score_threshold=0.99)
    inputs = [Document(content=text) for text in CORPUS]
    assert len(ranker.run(query=QUESTION, documents=inputs, top_k=5, score_threshold=0.0)["documents"]) == 5
    median = float(np.median(reranker.score(QUESTION, CORPUS)))
    kept = ranker.run(query=QUESTION, documents=inputs, top_k=len(CORPUS), score_threshold=median)["documents"]
    assert kept and all(d.score >= median for d in kept)
    with pytest.raises(InvalidArgumentError, match="top_k=0 must be an integer >= 1"):
        ranker.run(query=QUESTION, documents=inputs, top_k=0)


async def test_run_async_equals_run(text_embedder, document_embedder, ranker):
    inputs = documents()
    embedding, embedded, ranked = await asyncio.gather(
        text_embedder.run_async(text=QUESTION),
        document_embedder.run_async(documents=inputs),
        ranker.run_async(query=QUESTION, documents=inputs, top_k=2),
    )
    assert embedding == text_embedder.run(text=QUESTION)
    assert embedded == document_embedder.run(documents=inputs)
    assert ranked == ranker.run(query=QUESTION, documents=inputs, top_k=2)


def test_bad_input_is_a_clear_error(text_embedder, document_embedder, ranker):
    with pytest.raises(InvalidInputError, match="embed Documents with Qwen3DocumentEmbedder"):
        text_embedder.run(text=documents())
    with pytest.raises(InvalidInputError, match="documents must be a list of Documents, got a single str"):
        document_embedder.run(documents="not a list")
    with pytest.raises(InvalidArgumentError, match="top_k=0 must be an integer >= 1"):
        Qwen3Ranker(top_k=0)
    with pytest.raises(InvalidArgumentError, match="device must be a haystack ComponentDevice"):
        Qwen3TextEmbedder(device="cpu")
    assert document_embedder.run(documents=[]) == {"documents": []}
    assert ranker.run(query=QUESTION, documents=[]) == {"documents": []}


def test_missing_haystack_names_the_extra():
    code = "import sys; sys.modules['haystack'] = None\nimport qwen3_rag.integrations.haystack"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'pip install "haystack-ai>=2.10"' in result.stderr and 'pip install ".[haystack]"' in result.stderr


def test_documents_without_text_read_as_haystacks_embedders_read_them(document_embedder, ranker, embedder):
    """content None reads as "" (after any meta values), as Haystack's own embedders do: no run stops."""
    mixed = [Document(id="a", content="Beijing is the capital."), Document(id="b", content=None, meta={"t": "x"})]
    embedded = document_embedder.run(documents=mixed)["documents"]
    assert [d.id for d in embedded] == ["a", "b"]
    np.testing.assert_allclose(embedded[1].embedding, embedder.embed_documents([""])[0], rtol=0, atol=1e-6)
    assert {d.id for d in ranker.run(query=QUESTION, documents=mixed)["documents"]} == {"a", "b"}


def test_scale_score_false_gives_log_odds(tiny_models, reranker):
    inputs = documents()
    raw = Qwen3Ranker(model=tiny_models.reranker, scale_score=False, top_k=3).run(query=QUESTION, documents=inputs)
    logits = reranker.logits(QUESTION, [d.content for d in inputs])
    assert [d.score for d in raw["documents"]] == pytest.approx(sorted(logits, reverse=True)[:3], abs=1e-5)
    with pytest.raises(InvalidArgumentError, match="scale_score='no' must be True or False"):
        Qwen3Ranker(scale_score="no")


def test_from_dict_leaves_the_callers_dict_as_it_was(tiny_models):
    import copy
    import json

    from haystack.utils import Secret

    from qwen3_rag.integrations.haystack import Qwen3TextEmbedder

    data = Qwen3TextEmbedder(base_url="http://127.0.0.1:9", api_key=Secret.from_env_var("QWEN3_TEST_KEY")).to_dict()
    before = copy.deepcopy(data)
    Qwen3TextEmbedder.from_dict(data)
    assert data == before
    json.dumps(data)  # still plain JSON: the secret stays a reference


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_precision_quantizes_document_embeddings_as_the_core_does(precision, tiny_models, embedder):
    from qwen3_rag import quantize_embeddings

    quantized = Qwen3DocumentEmbedder(model=tiny_models.embedding, device=CPU, precision=precision)
    out = quantized.run(documents=documents())["documents"]
    expected = quantize_embeddings(embedder.embed_documents(CORPUS), precision)
    assert all(type(value) is int for d in out for value in d.embedding)  # lists of ints, as Haystack's own
    np.testing.assert_array_equal(np.array([d.embedding for d in out], dtype=expected.dtype), expected)
    assert Qwen3DocumentEmbedder.from_dict(quantized.to_dict()).precision == precision
    query = Qwen3TextEmbedder(model=tiny_models.embedding, device=CPU, precision="ubinary").run(text=QUESTION)
    np.testing.assert_array_equal(
        query["embedding"], quantize_embeddings(embedder.embed_queries([QUESTION]), "ubinary")[0]
    )


def test_a_precision_haystack_does_not_know_is_refused_at_init(tiny_models):
    with pytest.raises(InvalidArgumentError, match="precision='int4' is not a precision"):
        Qwen3DocumentEmbedder(model=tiny_models.embedding, device=CPU, precision="int4")
