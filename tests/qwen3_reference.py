"""The official Qwen3 algorithms written plainly, as the model cards run them: the parity oracle.

Deliberately independent of qwen3_rag: full padded batches with left padding, `AutoModel`'s last
hidden state at position -1, and the causal LM's full-vocabulary logits for the reranker.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def query_text(instruction: str, query: str) -> str:
    return f"Instruct: {instruction}\nQuery:{query}"


@torch.no_grad()
def official_embeddings(model_dir, texts, max_length=8192, dim=None) -> np.ndarray:
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"]
    if bool((mask[:, -1] == 1).all()):  # left padded: the last column is every text's last token
        pooled = hidden[:, -1]
    else:
        pooled = hidden[torch.arange(len(texts)), mask.sum(dim=1) - 1]
    if dim is not None:
        pooled = pooled[:, :dim]
    return F.normalize(pooled, p=2, dim=1).numpy()


@torch.no_grad()
def official_scores(model_dir, instruction, query, documents, max_length=8192) -> np.ndarray:
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    prefix = tokenizer.encode(PREFIX, add_special_tokens=False)
    suffix = tokenizer.encode(SUFFIX, add_special_tokens=False)
    pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in documents]
    inputs = tokenizer(
        pairs,
        padding=False,
        truncation="longest_first",
        return_attention_mask=False,
        max_length=max_length - len(prefix) - len(suffix),
        add_special_tokens=False,
    )
    inputs["input_ids"] = [prefix + ids + suffix for ids in inputs["input_ids"]]
    batch = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
    logits = model(**batch).logits[:, -1, :]
    pair = torch.stack([logits[:, no], logits[:, yes]], dim=1)
    return torch.nn.functional.log_softmax(pair, dim=1)[:, 1].exp().numpy()


@torch.no_grad()
def official_scores_of_ids(model_dir, ids_per_prompt) -> np.ndarray:
    """The official scoring step on prompts already tokenized (for inputs the official code would
    tokenize differently, such as text that spells control tokens)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    batch = tokenizer.pad({"input_ids": list(ids_per_prompt)}, padding=True, return_tensors="pt")
    logits = model(**batch).logits[:, -1, :]
    pair = torch.stack([logits[:, no], logits[:, yes]], dim=1)
    return torch.nn.functional.log_softmax(pair, dim=1)[:, 1].exp().numpy()


@torch.no_grad()
def official_embeddings_of_ids(model_dir, ids_per_text) -> np.ndarray:
    """The official pooling step on texts already tokenized (each ending in <|endoftext|>)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    batch = tokenizer.pad({"input_ids": list(ids_per_text)}, padding=True, return_tensors="pt")
    return F.normalize(model(**batch).last_hidden_state[:, -1], p=2, dim=1).numpy()


@torch.no_grad()
def official_log_odds(model_dir, instruction, query, documents, max_length=8192) -> np.ndarray:
    probabilities = official_scores(model_dir, instruction, query, documents, max_length).astype(np.float64)
    return np.log(probabilities) - np.log1p(-probabilities)
