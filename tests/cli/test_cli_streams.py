"""`qwen3-rag embed` and `qwen3-rag rerank`: streamed in blocks, equal to the core's numbers."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
from conftest import VARIED_TEXTS

from qwen3_rag.cli import main

LINES = [text for text in VARIED_TEXTS if "\n" not in text]  # one text per line in plain-text input


def embed(tiny_models, *argv: str) -> int:
    return main(["-q", "embed", "--embedding-model", tiny_models.embedding, "--device", "cpu", *argv])


def rerank(tiny_models, *argv: str) -> int:
    return main(["-q", "rerank", "--reranker-model", tiny_models.reranker, "--device", "cpu", *argv])


def test_embed_text_lines_to_npy_in_blocks(tiny_models, embedder, tmp_path):
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    assert embed(tiny_models, str(source), "-o", str(tmp_path / "out.npy"), "--block-size", "3") == 0
    vectors = np.load(tmp_path / "out.npy", mmap_mode="r")  # a standard .npy, header fixed up at the end
    assert vectors.dtype == np.float32 and vectors.shape == (len(LINES), 64)
    np.testing.assert_allclose(vectors, embedder.embed_documents(LINES), rtol=0, atol=1e-6)


def test_embed_jsonl_queries_keep_their_records(tiny_models, embedder, tmp_path, capsys):
    source = tmp_path / "queries.jsonl"
    source.write_text("".join(json.dumps({"id": n, "body": text}) + "\n" for n, text in enumerate(VARIED_TEXTS)))
    assert embed(tiny_models, str(source), "--field", "body", "--queries", "--dim", "32") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == list(range(len(VARIED_TEXTS)))
    assert [r["body"] for r in records] == VARIED_TEXTS  # newlines inside a record survive
    from qwen3_rag import Embedder

    expected = Embedder(tiny_models.embedding, device="cpu", dim=32).embed_queries(VARIED_TEXTS)
    np.testing.assert_allclose(np.array([r["embedding"] for r in records]), expected, rtol=0, atol=1e-6)


def test_embed_reads_stdin(tiny_models, embedder, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("first line\nsecond line\n"))
    assert embed(tiny_models) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == ["first line", "second line"]
    np.testing.assert_allclose(
        np.array([r["embedding"] for r in records]),
        embedder.embed_documents(["first line", "second line"]),
        rtol=0,
        atol=1e-6,
    )


def test_embed_streams_blocks_before_the_input_ends(tiny_models, tmp_path, capsys):
    """Blocks already read are written before a bad record further on stops the run: nothing waits for the end."""
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(json.dumps({"text": f"text {n}"}) + "\n" for n in range(4)) + "{broken\n")
    assert embed(tiny_models, str(source), "-o", str(tmp_path / "part.npy"), "--block-size", "2") == 1
    assert (
        capsys.readouterr().err.strip() == f"qwen3-rag: error: {source}:5: not JSON (Expecting property name "
        "enclosed in double quotes)"
    )
    assert np.load(tmp_path / "part.npy").shape == (4, 64)  # the rows done, in a valid file


def test_embed_names_a_missing_field(tiny_models, tmp_path, capsys):
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"content": "no text field"}) + "\n")
    assert embed(tiny_models, str(source)) == 1
    err = capsys.readouterr().err
    assert "record 2: field 'text' must be a string, found no such field; fields are ['content']" in err


def test_rerank_pairs_grouped_by_query_equal_the_core(tiny_models, reranker, tmp_path, capsys):
    pairs = (
        [("What is the capital of China?", text) for text in VARIED_TEXTS[:5]]
        + [("code", text) for text in VARIED_TEXTS[5:]]
        + [("What is the capital of China?", "Beijing.")]
    )
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps({"query": q, "document": d, "n": n}) + "\n" for n, (q, d) in enumerate(pairs)))
    assert rerank(tiny_models, str(source), "--block-size", "4") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["n"] for r in records] == list(range(len(pairs)))  # input order kept
    for record, (query, document) in zip(records, pairs, strict=True):
        assert record["logit"] == pytest.approx(float(reranker.logits(query, [document])[0]), abs=1e-5)
        assert record["score"] == pytest.approx(float(reranker.score(query, [document])[0]), abs=1e-6)


def test_rerank_plain_documents_against_one_query(tiny_models, reranker, tmp_path, capsys):
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    output = tmp_path / "scored.jsonl"
    assert rerank(tiny_models, str(source), "--query", "capital of China", "-o", str(output)) == 0
    scores = [json.loads(line)["score"] for line in output.read_text().splitlines()]
    assert scores == pytest.approx(reranker.score("capital of China", LINES).tolist(), abs=1e-6)
    assert rerank(tiny_models, str(source)) == 1
    assert "give the query with --query" in capsys.readouterr().err


def test_a_bad_block_size_is_refused_before_any_output(tiny_models, tmp_path, capsys):
    source = tmp_path / "texts.txt"
    source.write_text("one\n")
    assert embed(tiny_models, str(source), "-o", str(tmp_path / "out.npy"), "--block-size", "0") == 1
    assert "--block-size=0 must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()


def test_summaries_count_in_the_singular_and_the_plural(tiny_models, tmp_path, capsys):
    (tmp_path / "one.txt").write_text("a single line\n")
    (tmp_path / "two.txt").write_text("first\nsecond\n")
    for name, expected in [
        ("one.txt", "embedded 1 text into 64 dimensions"),
        ("two.txt", "embedded 2 texts into 64 dimensions"),
    ]:
        assert (
            main(
                [
                    "embed",
                    str(tmp_path / name),
                    "-o",
                    str(tmp_path / "out.npy"),
                    "--embedding-model",
                    tiny_models.embedding,
                    "--device",
                    "cpu",
                ]
            )
            == 0
        )
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(expected)
    assert (
        main(
            [
                "rerank",
                str(tmp_path / "one.txt"),
                "--query",
                "q",
                "-o",
                str(tmp_path / "s.jsonl"),
                "--reranker-model",
                tiny_models.reranker,
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("scored 1 pair (")


@pytest.mark.parametrize(
    "line, detail",
    [("[" * 100_000 + "]" * 100_000, "nested too deeply"), ('{"text": ' + "9" * 10_000 + "}", "Exceeds the limit")],
)
def test_jsonl_that_json_cannot_hold_is_named_by_line(tiny_models, tmp_path, capsys, line, detail):
    (tmp_path / "in.jsonl").write_text('{"text": "fine"}\n' + line + "\n")
    assert (
        main(["embed", str(tmp_path / "in.jsonl"), "--embedding-model", tiny_models.embedding, "--device", "cpu"]) == 1
    )
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"qwen3-rag: error: {tmp_path / 'in.jsonl'}:2: not JSON (") and detail in error
