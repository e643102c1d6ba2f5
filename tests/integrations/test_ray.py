"""The Ray Data integration on a real local Ray cluster (2 CPUs) with the tiny checkpoints."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
from conftest import VARIED_TEXTS
from tiny_qwen3 import write_embedding_model

from qwen3_rag import InvalidArgumentError, ModelLoadError
from qwen3_rag.integrations.ray import Qwen3EmbedBatch, embed_dataset, rerank_dataset, write_embeddings, write_index

TEXTS = [f"{text} #{n}" for n, text in enumerate(VARIED_TEXTS * 4)]  # 40 distinct texts


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def rows_by_id(dataset: ray.data.Dataset) -> list[dict]:
    return sorted(dataset.take_all(), key=lambda row: row["id"])


def items() -> list[dict]:
    return [{"id": n, "text": text} for n, text in enumerate(TEXTS)]


def test_documents_and_queries_equal_the_core(tiny_models, embedder):
    dataset = ray.data.from_items(items(), override_num_blocks=4)
    documents = rows_by_id(embed_dataset(dataset, model=tiny_models.embedding, device="cpu", batch_size=7))
    assert [row["id"] for row in documents] == list(range(len(TEXTS)))  # every row exactly once
    np.testing.assert_allclose(
        np.stack([row["embedding"] for row in documents]), embedder.embed_documents(TEXTS), rtol=0, atol=1e-6
    )
    queries = rows_by_id(
        embed_dataset(
            dataset,
            model=tiny_models.embedding,
            device="cpu",
            queries=True,
            output_column="query_vector",
            instruction="code_search",
        )
    )
    expected = embedder.embed_queries(TEXTS, instruction="code_search")
    np.testing.assert_allclose(np.stack([row["query_vector"] for row in queries]), expected, rtol=0, atol=1e-6)


def test_rerank_scores_equal_the_core(tiny_models, reranker):
    pairs = [
        {"id": n, "query": "What is the capital of China?" if n % 3 else "code", "document": text}
        for n, text in enumerate(TEXTS)
    ]
    scored = rows_by_id(
        rerank_dataset(ray.data.from_items(pairs), model=tiny_models.reranker, device="cpu", batch_size=8)
    )
    for row, pair in zip(scored, pairs, strict=True):
        assert row["logit"] == pytest.approx(float(reranker.logits(pair["query"], [pair["document"]])[0]), abs=1e-5)
        assert row["score"] == pytest.approx(float(reranker.score(pair["query"], [pair["document"]])[0]), abs=1e-6)


def test_write_embeddings_streams_jsonl_to_parquet(tiny_models, embedder, tmp_path):
    source = tmp_path / "corpus.jsonl"
    source.write_text(
        "".join(json.dumps({"doc_id": f"d{n}", "body": t, "extra": n}) + "\n" for n, t in enumerate(TEXTS))
    )
    summary = write_embeddings(
        str(source),
        str(tmp_path / "vectors"),
        id_column="doc_id",
        text_column="body",
        model=tiny_models.embedding,
        device="cpu",
        dim=32,
        batch_size=16,
    )
    table = pq.read_table(tmp_path / "vectors")
    assert table.column_names == ["doc_id", "embedding"]  # (id, vector): what vector stores bulk-load
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 32)
    assert summary.rows == len(TEXTS) and summary.rows_per_second > 0 and "rows/s" in str(summary)
    got = dict(zip(table.column("doc_id").to_pylist(), table.column("embedding").to_pylist(), strict=True))
    assert sorted(got) == sorted(f"d{n}" for n in range(len(TEXTS)))
    again = write_embeddings(
        str(source),
        str(tmp_path / "vectors"),
        id_column="doc_id",
        text_column="body",
        model=tiny_models.embedding,
        device="cpu",
        dim=32,
    )
    assert again.rows == len(TEXTS)  # Ray appends to the folder; the summary counts this run only
    from qwen3_rag import Embedder

    expected = Embedder(tiny_models.embedding, device="cpu", dim=32).embed_documents(TEXTS)
    np.testing.assert_allclose(np.array([got[f"d{n}"] for n in range(len(TEXTS))]), expected, rtol=0, atol=1e-6)


class CrashOnceEmbed(Qwen3EmbedBatch):
    """Kills its own worker process the first time any actor sees the batch holding row 20."""

    def __init__(self, marker: str, **kwargs):
        super().__init__(**kwargs)
        self.marker = marker

    def __call__(self, batch):
        if 20 in batch.column("id").to_pylist() and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)  # a hard worker death, not an exception
        return super().__call__(batch)


# Ray pickles with its own copy of cloudpickle; by value, so workers need not import this test module.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def test_a_killed_actor_is_replaced_and_every_row_comes_out_once(tiny_models, embedder, tmp_path):
    marker = tmp_path / "crashed"
    dataset = ray.data.from_items(items(), override_num_blocks=8).map_batches(
        CrashOnceEmbed,
        fn_constructor_kwargs={"marker": str(marker), "model": tiny_models.embedding, "device": "cpu"},
        batch_size=5,
        batch_format="pyarrow",
        concurrency=1,
    )
    rows = rows_by_id(dataset)
    assert marker.exists()  # the crash happened
    assert [row["id"] for row in rows] == list(range(len(TEXTS)))
    np.testing.assert_allclose(
        np.stack([row["embedding"] for row in rows]), embedder.embed_documents(TEXTS), rtol=0, atol=1e-6
    )


def test_bad_settings_fail_on_the_driver_before_any_actor(tiny_models, tmp_path):
    dataset = ray.data.from_items(items())
    # embed_dataset is lazy: an error raised by the call itself was raised on the driver.
    with pytest.raises(InvalidArgumentError, match=r"dim=16 is outside 32\.\.64"):
        embed_dataset(dataset, model=tiny_models.embedding, dim=16)
    with pytest.raises(InvalidArgumentError, match="device='gpu' is not a device"):
        embed_dataset(dataset, model=tiny_models.embedding, device="gpu")
    with pytest.raises(InvalidArgumentError, match=r"unknown setting\(s\) dimension; it takes .*\bdim\b"):
        embed_dataset(dataset, model=tiny_models.embedding, dimension=32)
    with pytest.raises(InvalidArgumentError, match="is not a known preset"):
        rerank_dataset(dataset, model=tiny_models.reranker, instruction="web_serch")
    with pytest.raises(ModelLoadError, match="is not an existing directory"):
        embed_dataset(dataset, model=str(tmp_path / "missing" / "model"))
    with pytest.raises(InvalidArgumentError, match="batch_size=0"):
        embed_dataset(dataset, model=tiny_models.embedding, batch_size=0)
    with pytest.raises(InvalidArgumentError, match=r"lacks column\(s\) \['body'\]"):
        write_embeddings(dataset, str(tmp_path / "out"), text_column="body", model=tiny_models.embedding)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        write_embeddings(str(tmp_path / "nowhere.jsonl"), str(tmp_path / "out"), model=tiny_models.embedding)
    assert not Path(tmp_path / "out").exists()


def test_actors_that_would_take_every_cpu_are_warned_about(tiny_models):
    dataset = ray.data.from_items(items())
    with pytest.warns(UserWarning, match="reserve 2 of the cluster's 2 CPUs"):
        embed_dataset(dataset, model=tiny_models.embedding, concurrency=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embed_dataset(dataset, model=tiny_models.embedding, concurrency=2, num_cpus=0.5)


def test_write_index_makes_an_index_the_cli_searches(tmp_path, tiny_models, embedder, capsys):
    from qwen3_rag.cli import main
    from qwen3_rag.local_index import IndexStore

    index = tmp_path / "idx"
    rows = [{"id": n, "text": text} for n, text in enumerate(TEXTS)]
    rows.append({"id": 3, "text": TEXTS[3]})  # an id seen again replaces its entry: no duplicate
    summary = write_index(
        ray.data.from_items(rows, override_num_blocks=3),
        str(index),
        model=tiny_models.embedding,
        reranker_model=tiny_models.reranker,
        batch_size=8,
    )
    assert summary.rows >= len(TEXTS)
    with IndexStore.open(index) as store:
        assert store.chunk_count() == store.file_count() == len(TEXTS)
    assert main(["-q", "search", TEXTS[5], "--index", str(index), "--no-rerank", "-k", "4", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    similarity = embedder.embed_documents(TEXTS) @ embedder.embed_queries([TEXTS[5]])[0]
    best = np.argsort(-similarity, kind="stable")[:4]
    assert [r["path"] for r in results] == [str(i) for i in best]
    assert [r["similarity"] for r in results] == pytest.approx(similarity[best].tolist(), abs=1e-6)
    assert main(["-q", "search", TEXTS[5], "--index", str(index), "--device", "cpu", "--json"]) == 0  # its reranker
    assert len(json.loads(capsys.readouterr().out)["results"]) == 5


def test_actor_pools_use_what_ray_asks_for_now(tiny_models):
    """Ray 2.51 logs a deprecation for map_batches(concurrency=...); our `concurrency=` must not cause it."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("ray.data")
    logger.addHandler(handler)
    try:
        dataset = embed_dataset(
            ray.data.from_items(items()[:4]),
            model=tiny_models.embedding,
            device="cpu",
            concurrency=(1, 1),
            num_cpus=0.5,
        )
        assert len(dataset.take_all()) == 4
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "concurrency" in r.getMessage() and "deprecated" in r.getMessage()]


def test_write_index_never_loads_the_model_on_the_driver(tmp_path):
    """The driver only names the settings (config and tokenizer): no model is loaded in this process while
    write_index runs, and its memory grows by less than the weights' size (388 MB of embedding table:
    151,669 x 640 in fp32). Both are watched from a thread during the call."""
    from qwen3_rag.kernels import loading

    model = write_embedding_model(tmp_path / "wide", hidden_size=640, intermediate_size=64, num_hidden_layers=1)
    weights = sum(path.stat().st_size for path in model.glob("*.safetensors"))
    peak, baseline, loaded, done = [0], rss_bytes(), set(), threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            loaded.update(key.source for key in list(loading._loaded.keys()))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        summary = write_index(
            ray.data.from_items(items()[:8]),
            str(tmp_path / "idx"),
            model=str(model),
            reranker_model="Qwen/Qwen3-Reranker-0.6B",
            concurrency=1,
        )
    finally:
        done.set()
        watcher.join()
    assert summary.rows == 8
    assert str(model) not in loaded
    grown = peak[0] - baseline
    assert grown < weights, f"the driver grew by {grown >> 20} MiB for {weights >> 20} MiB of weights"


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@pytest.mark.parametrize("precision, arrow_type", [("int8", pa.int8()), ("ubinary", pa.uint8()), ("binary", pa.int8())])
def test_quantized_embeddings_round_trip_through_parquet(precision, arrow_type, tiny_models, embedder, tmp_path):
    from qwen3_rag import calibration_ranges, quantize_embeddings

    floats = embedder.embed_documents(TEXTS)
    ranges = calibration_ranges(floats) if precision == "int8" else None
    write_embeddings(
        ray.data.from_items(items()),
        str(tmp_path / "q"),
        model=tiny_models.embedding,
        device="cpu",
        batch_size=8,
        precision=precision,
        ranges=ranges,
    )
    table = pq.read_table(tmp_path / "q")
    width = 64 if precision == "int8" else 8
    assert table.schema.field("embedding").type == pa.list_(arrow_type, width)
    got = dict(zip(table.column("id").to_pylist(), table.column("embedding").to_pylist(), strict=True))
    expected = quantize_embeddings(floats, precision, ranges=ranges)
    np.testing.assert_array_equal(np.array([got[n] for n in range(len(TEXTS))]), expected)


def test_int8_without_fixed_ranges_is_refused_on_the_driver(tiny_models):
    with pytest.raises(InvalidArgumentError, match="precision='int8' needs ranges="):
        embed_dataset(ray.data.from_items(items()), model=tiny_models.embedding, precision="int8")
    with pytest.raises(InvalidArgumentError, match="an index stores float32, float16, int8 or binary vectors"):
        write_index(ray.data.from_items(items()), "unused", model=tiny_models.embedding, precision="uint8")


@pytest.mark.parametrize("precision", ["binary", "int8"])
def test_write_index_can_store_compact_vectors(tiny_models, embedder, tmp_path, precision):
    from qwen3_rag.local_index import IndexStore

    write_index(
        ray.data.from_items(items()),
        str(tmp_path / "idx"),
        model=tiny_models.embedding,
        precision=precision,
        batch_size=16,
    )
    with IndexStore.open(tmp_path / "idx") as store:
        assert store.precision == precision and store.chunk_count() == len(TEXTS)
        found = store.search(embedder.embed_queries([TEXTS[7]])[0], 3, rescore=10 if precision == "binary" else None)
    assert len(found.hits) == 3
