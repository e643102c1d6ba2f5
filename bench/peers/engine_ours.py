"""qwen3-rag in fp32, bf16 and int8, behind the same runner interface as the peer engines (main .venv)."""

from __future__ import annotations

from pathlib import Path

from common import main

VARIANTS = ["fp32", "bf16", "int8"]
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}


def convert(model_dir: Path, work: Path, variant: str) -> dict:
    return {"note": "no conversion: qwen3-rag loads the Hugging Face checkpoint"}


def load(args):
    import torch

    import qwen3_rag
    from qwen3_rag import Embedder

    torch.set_num_threads(args.threads)
    embedder = Embedder(str(args.model_dir), device="cpu", dtype=DTYPES[args.variant])

    def embed(texts):
        return embedder.embed_documents(texts), None  # its token count is the driver's reference count

    facts = {
        "engine": "qwen3-rag",
        "version": getattr(qwen3_rag, "__version__", None),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "attention_path": getattr(getattr(embedder, "model", None), "attention_path", None),
    }
    return embed, facts


if __name__ == "__main__":
    main(VARIANTS, convert, load)
