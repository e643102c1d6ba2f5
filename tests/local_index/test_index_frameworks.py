"""An index built by `qwen3-rag index` opens as a LangChain LanceDB vector store, as docs/folder-index.md shows."""

from __future__ import annotations

import json

from langchain_lancedb import LanceDB

from qwen3_rag.cli import main
from qwen3_rag.integrations.langchain import Qwen3Embeddings

FILES = {
    "notes.txt": "Beijing is the capital of China.\nParis is the capital of France.\n",
    "guide.md": "# Keys\nRotate the keys with the rotate command every month.\n",
    "rivers.md": "The Yangtze is the longest river in Asia.\n",
}


def test_the_cli_index_is_a_langchain_lancedb_store(tmp_path, tiny_models, capsys, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    index = tmp_path / "idx"
    assert (
        main(
            [
                "-q",
                "index",
                str(folder),
                "--index",
                str(index),
                "--embedding-model",
                tiny_models.embedding,
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    monkeypatch.chdir(tmp_path)  # the CLI prints paths from here as the index records them
    assert (
        main(
            ["-q", "search", "What is the capital of China?", "--index", str(index), "--no-rerank", "-k", "2", "--json"]
        )
        == 0
    )
    expected = json.loads(capsys.readouterr().out)["results"]

    store = LanceDB(
        uri=str(index),
        table_name="chunks",
        embedding_function=Qwen3Embeddings(model=tiny_models.embedding, device="cpu"),
    )
    found = store.similarity_search_with_score("What is the capital of China?", k=2)
    assert [(d.page_content, d.metadata["path"], d.metadata["start_line"]) for d, _ in found] == [
        (r["text"], r["path"], r["start_line"]) for r in expected
    ]
    # It ranks by squared L2 distance, which for unit vectors is 2 - 2 x the CLI's similarity: same order.
    assert [round(distance, 4) for _, distance in found] == [round(2 - 2 * r["similarity"], 4) for r in expected]
