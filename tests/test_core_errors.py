"""Every bad input named in the core issue gets a clear error naming the argument."""

from __future__ import annotations

import pytest

from qwen3_rag import Embedder, InvalidArgumentError, InvalidInputError, ModelLoadError, Reranker
from qwen3_rag.settings import EmbedderSettings
from qwen3_rag.vector_settings import VectorSettings


@pytest.mark.parametrize(
    "texts, message",
    [
        (["fine", None], r"texts\[1\] must be a string, got NoneType"),
        (["fine", 3], r"texts\[1\] must be a string, got int"),
        ("a single string", r"texts must be a list of strings, got a single str; wrap it in a list"),
        (None, r"texts must be a list of strings, got NoneType"),
    ],
)
def test_non_string_texts(embedder, texts, message):
    with pytest.raises(InvalidInputError, match=message):
        embedder.embed_documents(texts)
    with pytest.raises(TypeError, match=message):  # InvalidInputError is a TypeError
        embedder.embed_queries(texts)


def test_non_string_documents_and_query(reranker):
    with pytest.raises(InvalidInputError, match=r"documents\[0\] must be a string, got bytes"):
        reranker.score("q", [b"bytes"])
    with pytest.raises(InvalidInputError, match="query must be a string, got NoneType"):
        reranker.score(None, ["doc"])


@pytest.mark.parametrize("dim", [20, 31, 65, 0, -5])
def test_dim_outside_range(tiny_models, dim):
    with pytest.raises(InvalidArgumentError, match=rf"dim={dim} is outside 32..64 for .*embedding"):
        Embedder(tiny_models.embedding, device="cpu", dim=dim)


def test_dim_of_a_known_checkpoint_fails_before_download():
    with pytest.raises(InvalidArgumentError, match=r"dim=2048 is outside 32..1024 for Qwen/Qwen3-Embedding-0.6B"):
        Embedder("Qwen/Qwen3-Embedding-0.6B", dim=2048)


def test_dim_must_be_an_integer(tiny_models):
    with pytest.raises(InvalidArgumentError, match="dim must be an integer or None, got float"):
        Embedder(tiny_models.embedding, device="cpu", dim=50.0)


def test_reranker_max_length_too_small_for_the_fixed_prompt(tiny_models):
    with pytest.raises(InvalidArgumentError, match=r"max_length=40 leaves no room .* takes \d+ tokens; use at least"):
        Reranker(tiny_models.reranker, device="cpu", max_length=40)


@pytest.mark.parametrize("max_length", [0, 1, -3, "512"])
def test_embedder_max_length(tiny_models, max_length):
    with pytest.raises(InvalidArgumentError, match=r"max_length=.* must be an integer >= 2"):
        Embedder(tiny_models.embedding, device="cpu", max_length=max_length)


def test_unknown_preset_suggests_the_close_one(tiny_models, embedder):
    with pytest.raises(InvalidArgumentError, match=r"'web_serch' is not a known preset .* Did you mean 'web_search'"):
        Embedder(tiny_models.embedding, device="cpu", instruction="web_serch")
    with pytest.raises(InvalidArgumentError, match="'qa' is not a known preset"):
        embedder.embed_queries(["q"], instruction="qa")
    with pytest.raises(InvalidArgumentError, match="instruction must not be blank"):
        embedder.embed_queries(["q"], instruction="   ")


def test_unknown_device(tiny_models):
    with pytest.raises(InvalidArgumentError, match=r"device='tpu' is not a device; use one of 'cpu', 'cuda'"):
        Embedder(tiny_models.embedding, device="tpu")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu(tiny_models):
    with pytest.raises(InvalidArgumentError, match="device='cuda' but this torch build sees no CUDA device"):
        Reranker(tiny_models.reranker, device="cuda")


def test_unknown_dtype(tiny_models):
    with pytest.raises(InvalidArgumentError, match=r"dtype='int4' is not supported; use 'float32', 'bfloat16'"):
        Embedder(tiny_models.embedding, device="cpu", dtype="int4")


def test_missing_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="is not an existing directory"):
        Embedder(str(missing))
    with pytest.raises(ModelLoadError, match="is not an existing directory"):
        Reranker("./models/qwen3-reranker")


def test_directory_without_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="could not load embedding model"):
        Embedder(str(tmp_path), device="cpu")


def test_not_a_qwen3_model(tmp_path):
    from transformers import BertConfig

    BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match=r"is a 'bert' model; qwen3-rag runs Qwen3-Embedding"):
        Embedder(str(tmp_path), device="cpu")


def test_known_checkpoint_of_the_other_kind():
    with pytest.raises(ModelLoadError, match=r"Qwen/Qwen3-Reranker-0.6B is a reranker checkpoint \(a published"):
        Embedder("Qwen/Qwen3-Reranker-0.6B")


def test_local_checkpoints_given_in_the_other_role_are_refused_before_loading(tiny_models, monkeypatch):
    import qwen3_rag.kernels.weights as weights

    def never(*args, **kwargs):
        raise AssertionError("weights were read")

    monkeypatch.setattr(weights, "load_decoder", never)
    with pytest.raises(ModelLoadError, match=r"reranker checkpoint \(its weights are a causal .*, not an embedding"):
        Embedder(tiny_models.reranker, device="cpu")
    with pytest.raises(ModelLoadError, match=r"embedding checkpoint \(its config names the bare Qwen3Model.*Embedder"):
        Reranker(tiny_models.embedding, device="cpu")
    with pytest.raises(ModelLoadError, match="is a reranker checkpoint"):  # a served model's tokenizer too
        VectorSettings.from_settings(EmbedderSettings(model=tiny_models.reranker))


def test_top_k_must_be_positive(reranker):
    with pytest.raises(InvalidArgumentError, match="top_k=0 must be an integer >= 1"):
        reranker.rerank("q", ["d"], top_k=0)


@pytest.mark.parametrize(
    "instruction",
    [
        "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
        "Given a web search query, retrieve relevant passages\nQuery:",
        "<Instruct>: Given the user query, retrieve the relevant passages",
        "<|im_start|>system\nJudge the document",
    ],
)
def test_an_instruction_holding_the_template_is_refused_not_wrapped_twice(tiny_models, embedder, reranker, instruction):
    from qwen3_rag.integrations.langchain import Qwen3Embeddings

    message = r"holds the prompt template .*pass only the task sentence"
    with pytest.raises(InvalidArgumentError, match=message):
        Embedder(tiny_models.embedding, device="cpu", instruction=instruction)
    with pytest.raises(InvalidArgumentError, match=message):
        embedder.embed_queries(["q"], instruction=instruction)
    with pytest.raises(InvalidArgumentError, match=message):
        reranker.score("q", ["d"], instruction=instruction)
    with pytest.raises(ValueError, match=message):  # LangChain's pydantic validation wraps it at construction
        Qwen3Embeddings(model=tiny_models.embedding, device="cpu", instruction=instruction)


def test_a_task_sentence_that_mentions_a_query_is_an_instruction(embedder):
    vector = embedder.embed_queries(["q"], instruction="Given a query: find the passages that answer it")
    assert vector.shape == (1, 64)


def test_lone_surrogates_are_named_not_raised_from_the_tokenizer(embedder, reranker):
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is not valid Unicode: .*\('\\ud800'\) at position 4"):
        embedder.embed_documents(["fine", "bad \ud800 text"])
    with pytest.raises(InvalidInputError, match=r"documents\[0\] is not valid Unicode"):
        reranker.score("q", ["\udcff"])
    with pytest.raises(InvalidInputError, match=r"query is not valid Unicode"):
        reranker.score("\ud800", ["d"])


@pytest.mark.parametrize("symmetric", ["no", 0, 1, "False"])
def test_symmetric_takes_only_a_bool(tiny_models, symmetric):
    with pytest.raises(InvalidArgumentError, match=rf"symmetric={symmetric!r} must be True or False"):
        Embedder(tiny_models.embedding, device="cpu", symmetric=symmetric)


def test_missing_tokenizer_files_and_a_lying_config_are_load_errors(tiny_models, tmp_path):
    import json
    import shutil

    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_models.embedding, no_tokenizer)
    for path in no_tokenizer.iterdir():
        if path.name.startswith(("tokenizer", "special_tokens", "vocab", "merges", "chat_template")):
            path.unlink()
    with pytest.raises(ModelLoadError, match=r"no usable Qwen3 tokenizer .*tokenizer files .* are missing"):
        Embedder(str(no_tokenizer), device="cpu")

    liar = tmp_path / "liar"
    shutil.copytree(tiny_models.embedding, liar)
    config = json.loads((liar / "config.json").read_text())
    config["intermediate_size"] *= 2  # the weights say otherwise
    (liar / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="its config.json does not describe its weights"):
        Embedder(str(liar), device="cpu")
