"""Compact indexes. Binary: sign bits for recall by Hamming distance, int8 for rescoring against the float
query. Int8: each vector in int8 steps of its own size, scanned whole with the float query. Their answers
equal a brute-force computation of the same recipe in the test; float indexes are unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from index_helpers import index, last_error, make_folder

from qwen3_rag import InvalidArgumentError
from qwen3_rag.cli import main
from qwen3_rag.local_index import IndexStore

WORDS = "alpha beta gamma delta kernel index vector search rerank query document chunk token model".split()


def corpus(tmp_path, count: int = 60):
    rng = np.random.default_rng(7)
    return make_folder(tmp_path / "docs", {f"doc{i:03d}.txt": " ".join(rng.choice(WORDS, 10)) for i in range(count)})


def brute_force(query: np.ndarray, floats: np.ndarray, top: int, rescore: int) -> list[int]:
    """The recipe written out: Hamming distance on sign bits, the best top x rescore kept (ties by
    position), then the dot product of the float query with each row's int8 vector scaled back."""
    bits = np.unpackbits(np.packbits(floats > 0, axis=1), axis=1)
    distance = (bits != (query > 0).astype(np.uint8)).sum(axis=1)
    candidates = np.argsort(distance, kind="stable")[: top * rescore]
    step = np.abs(floats[candidates]).max(axis=1) / 127
    rescored = (np.rint(floats[candidates] / step[:, None]) * step[:, None]) @ query
    return [int(candidates[i]) for i in np.argsort(-rescored, kind="stable")[:top]]


QUESTION = "kernel vector search"


def indexed_corpus(tmp_path, tiny_models, embedder, precision: str):
    """A corpus indexed at `precision`: the chunks table's schema, the file names, their float vectors and
    the query's (the test's own, from the core), for a brute force to compare the index with."""
    folder = corpus(tmp_path)
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--precision", precision) == 0
    with IndexStore.open(tmp_path / "idx") as store:
        assert store.precision == precision and store.settings["precision"] == precision
        schema = store.chunks.schema
    names = sorted(p.name for p in folder.iterdir())
    floats = embedder.embed_documents([(folder / name).read_text() for name in names])
    return schema, names, floats, embedder.embed_queries([QUESTION])[0]


@pytest.mark.parametrize("rescore", [1, 4, 10])
def test_search_of_a_binary_index_equals_hamming_recall_and_float_rescoring(
    tmp_path, tiny_models, embedder, capsys, rescore
):
    schema, names, floats, query = indexed_corpus(tmp_path, tiny_models, embedder, "binary")
    assert str(schema.field("vector").type) == "fixed_size_list<item: uint8>[8]"
    assert str(schema.field("rescore").type) == "fixed_size_list<item: int8>[64]"
    capsys.readouterr()
    assert (
        main(
            [
                "-q",
                "search",
                QUESTION,
                "--index",
                str(tmp_path / "idx"),
                "--no-rerank",
                "--json",
                "-k",
                "5",
                "--rescore",
                str(rescore),
            ]
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)
    assert answer["precision"] == "binary"
    expected = [names[i] for i in brute_force(query, floats, 5, rescore)]
    assert [r["path"].rsplit("/", 1)[-1] for r in answer["results"]] == expected
    scores = [r["similarity"] for r in answer["results"]]
    assert scores == sorted(scores, reverse=True)
    exact = {names[i]: float(floats[i] @ query) for i in range(len(names))}
    for result in answer["results"]:  # int8 rescoring is close to the float similarity
        assert result["similarity"] == pytest.approx(exact[result["path"].rsplit("/", 1)[-1]], abs=2e-2)


@pytest.mark.parametrize("precision", ["binary", "float16", "int8"])
def test_a_compact_index_keeps_its_precision_and_refuses_another_in_one_line(tmp_path, tiny_models, capsys, precision):
    folder = corpus(tmp_path, 8)
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--precision", precision) == 0
    (folder / "late.txt").write_text("a late file about kernels\n")
    assert index(folder, tmp_path / "idx", tiny_models.embedding) == 0  # the index's own precision
    with IndexStore.open(tmp_path / "idx") as store:
        assert store.file_count() == 9 and store.precision == precision
    assert index(folder, tmp_path / "idx", tiny_models.embedding, "--precision", "float32") == 1
    error = last_error(capsys)
    assert f"precision: index has '{precision}', asked for 'float32'" in error and len(error.splitlines()) == 1
    assert index(make_folder(tmp_path / "other", {"a.txt": "x\n"}), tmp_path / "plain", tiny_models.embedding) == 0
    assert index(folder, tmp_path / "plain", tiny_models.embedding, "--precision", precision) == 1
    assert f"precision: index has 'float32', asked for '{precision}'" in last_error(capsys)


def test_a_float_index_records_no_precision_and_searches_as_before(tmp_path, tiny_models, capsys):
    assert index(corpus(tmp_path, 5), tmp_path / "idx", tiny_models.embedding) == 0
    assert "precision" not in IndexStore.recorded_settings(tmp_path / "idx")
    capsys.readouterr()
    assert main(["-q", "search", "kernel", "--index", str(tmp_path / "idx"), "--no-rerank", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "float32"


def test_a_large_binary_index_gets_a_hamming_ann_index(tmp_path, tiny_models, embedder):
    from qwen3_rag.local_index import update_index
    from qwen3_rag.local_index.builder import index_settings

    folder = corpus(tmp_path, 300)
    settings = index_settings(embedder, 32, 8, "text", precision="binary")
    with IndexStore.create_or_open(tmp_path / "idx", settings) as store:
        update_index(store, [folder], embedder, chunk_tokens=32, overlap=8, progress=False, vector_index_from=256)
        assert {i.index_type for i in store.chunks.list_indices()} >= {"IvfFlat", "FTS"}
        query = embedder.embed_queries(["kernel search"])[0]
        found = store.search(query, 5, rescore=10)
    assert not found.exact and len(found.hits) == 5
    assert [h.score for h in found.hits] == sorted((h.score for h in found.hits), reverse=True)


def float16_ranking(query: np.ndarray, floats: np.ndarray) -> np.ndarray:
    """The float16 index written out: each vector rounded to float16, ranked by its cosine with the float query
    (ties by position)."""
    halves = floats.astype(np.float16).astype(np.float32)
    return np.argsort(-(halves @ query) / np.linalg.norm(halves, axis=1), kind="stable")


def test_a_large_float16_index_is_recalled_through_rabitq_and_refined_on_its_vectors(
    tmp_path, tiny_models, embedder, capsys
):
    from qwen3_rag.local_index import layouts, update_index
    from qwen3_rag.local_index.builder import index_settings

    folder = corpus(tmp_path, 300)
    settings = index_settings(embedder, 32, 8, "text", precision="float16")
    with IndexStore.create_or_open(tmp_path / "idx", settings) as store:
        update_index(store, [folder], embedder, chunk_tokens=32, overlap=8, progress=False, vector_index_from=256)
        indexes = {i.index_type: i for i in store.chunks.list_indices()}
        assert indexes["IvfRq"].index_details["compression"] == {"type": "rq", "num_bits": 1, "rotation_type": "fast"}
        query = embedder.embed_queries(["kernel search"])[0]
        found = store.search(query, 5)
        few = store.search(query, 5, rescore=1)  # 5 candidates by the 1-bit estimate alone, as LanceDB gives them
        by_estimate = store.chunks.search(query, vector_column_name="vector").distance_type("dot")
        by_estimate = by_estimate.nprobes(layouts.rq_probes(300)).refine_factor(1).limit(5).to_arrow()
    assert {h.text for h in few.hits} == set(by_estimate.column("text").to_pylist())
    assert not found.exact and len(found.hits) == 5
    assert found.index_details["compression"]["num_bits"] == 1  # what the search summary names
    names = sorted(p.name for p in folder.iterdir())
    floats = embedder.embed_documents([(folder / name).read_text() for name in names])
    best = float16_ranking(query, floats)
    # 17 partitions, all probed; 1,000 candidates (refine 200 x 5) by the 1-bit estimate, re-ranked in float16
    assert [h.path.rsplit("/", 1)[-1] for h in found.hits] == [names[i] for i in best[:5]]
    (folder / "late.txt").write_text("a late file about rerank tokens\n")  # after the index was built
    with IndexStore.create_or_open(tmp_path / "idx", settings) as store:
        update_index(store, [folder], embedder, chunk_tokens=32, overlap=8, progress=False, vector_index_from=256)
        assert len(store.chunks.list_indices()) == len(indexes)  # kept, not built again
        late = store.search(embedder.embed_documents(["a late file about rerank tokens\n"])[0], 1)
    assert late.hits[0].path.endswith("late.txt") and late.hits[0].score == pytest.approx(1.0, abs=2e-3)
    capsys.readouterr()
    command = ["search", "kernel search", "--index", str(tmp_path / "idx"), "--no-rerank", "--rescore", "7"]
    assert main([*command, "--embedding-model", tiny_models.embedding, "--device", "cpu"]) == 0
    summary = "embedding approximate (ANN) over float16 vectors (RaBitQ 1 bit, 10% of partitions, rescored x7) recall"
    assert summary in capsys.readouterr().err  # the bits as the index reports them, through the helper process


def int8_brute_force(query: np.ndarray, floats: np.ndarray, top: int) -> list[int]:
    """The int8 index written out: each row in int8 steps of its largest magnitude / 127, scaled back, and
    its dot product with the float query (ties by position)."""
    step = np.abs(floats).max(axis=1) / 127
    scores = (np.rint(floats / step[:, None]) * step[:, None]) @ query
    return [int(i) for i in np.argsort(-scores, kind="stable")[:top]]


# Per precision: the brute force of its ranking, its `vector` column's type and how close it keeps a similarity.
EXACT_SEARCHES = {
    "float16": (lambda query, floats: list(float16_ranking(query, floats)), "halffloat", 2e-3),
    "int8": (lambda query, floats: int8_brute_force(query, floats, len(floats)), "int8", 2e-2),
}


@pytest.mark.parametrize("precision", EXACT_SEARCHES)
def test_search_of_a_small_compact_index_equals_an_exact_ranking_of_its_vectors(
    tmp_path, tiny_models, embedder, capsys, precision
):
    """Below the ANN threshold a float16 index is scanned by LanceDB and an int8 one by our scan: either way,
    the answer is every vector as stored, ranked by its cosine with the float query."""
    ranking, vector_type, close = EXACT_SEARCHES[precision]
    schema, names, floats, query = indexed_corpus(tmp_path, tiny_models, embedder, precision)
    assert str(schema.field("vector").type) == f"fixed_size_list<item: {vector_type}>[64]"
    assert ("step" in schema.names) == (precision == "int8") and "rescore" not in schema.names
    capsys.readouterr()
    command = ["-q", "search", QUESTION, "--index", str(tmp_path / "idx"), "--no-rerank", "--json", "-k", "5"]
    assert main(command) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["precision"] == precision and answer["exact"] is True
    expected = [names[i] for i in ranking(query, floats)[:5]]
    assert [r["path"].rsplit("/", 1)[-1] for r in answer["results"]] == expected
    exact = {names[i]: float(floats[i] @ query) for i in range(len(names))}
    for result in answer["results"]:  # the stored vectors keep the float similarity to within `close`
        assert result["similarity"] == pytest.approx(exact[result["path"].rsplit("/", 1)[-1]], abs=close)
    if precision == "float16":  # its RaBitQ index's setting, taken; an exact scan has nothing to rescore
        assert main([*command, "--rescore", "4"]) == 0
        assert json.loads(capsys.readouterr().out)["results"] == answer["results"]
        return
    assert main([*command, "--rescore", "4"]) == 1  # it would change nothing: refused, not ignored
    error = last_error(capsys)
    assert f"--rescore applies to a binary or float16 index; this one stores {precision} vectors" in error
    assert len(error.splitlines()) == 1


def test_an_int8_scan_in_small_blocks_keeps_the_best_of_every_block(tmp_path, tiny_models, embedder, monkeypatch):
    """The scan keeps each block's best and merges them: with blocks of 7 rows the answer is the same."""
    from qwen3_rag.local_index import layouts, update_index
    from qwen3_rag.local_index.builder import index_settings

    folder = corpus(tmp_path, 300)
    settings = index_settings(embedder, 32, 8, "text", precision="int8")
    with IndexStore.create_or_open(tmp_path / "idx", settings) as store:
        update_index(store, [folder], embedder, chunk_tokens=32, overlap=8, progress=False, vector_index_from=256)
        # LanceDB indexes no int8 vectors: full text and the text hashes only
        assert {i.index_type for i in store.chunks.list_indices()} == {"FTS", "BTree"}
        query = embedder.embed_queries(["kernel search"])[0]
        whole = store.search(query, 10)
        monkeypatch.setattr(layouts, "SCAN_ROWS", 7)
        blocks = store.search(query, 10)
        hybrid = store.search(query, 10, text="kernel search")
        with pytest.raises(InvalidArgumentError, match="applies to a binary or float16 index; this one stores int8"):
            store.search(query, 10, rescore=4)  # it would change nothing: refused in the API too
    assert whole.exact and [h.path for h in blocks.hits] == [h.path for h in whole.hits]
    names = sorted(p.name for p in folder.iterdir())
    floats = embedder.embed_documents([(folder / n).read_text() for n in names])
    assert [h.path.rsplit("/", 1)[-1] for h in whole.hits] == [names[i] for i in int8_brute_force(query, floats, 10)]
    assert hybrid.hybrid and len(hybrid.hits) == 10
