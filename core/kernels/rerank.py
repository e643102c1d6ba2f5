"""The reranker kernel: the shared head's key/value cache computed once, documents run after it.

Only the last position of each document reaches the yes/no head, as one fp32 dot product;
vocabulary-sized logits are never formed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from transformers import DynamicCache

from .embedding import right_padded
from .loading import LoadedModel


@torch.inference_mode()
def score_batches(model: LoadedModel, head: list[int], tails: list[list[int]],
                  batches: Iterable[list[int]]) -> np.ndarray:
    """Log-odds logit(yes) - logit(no) for `head + tails[i]`, for every index in `batches`."""
    if model.yes_minus_no is None:
        raise TypeError(f"{model.key.source} was loaded as an embedding model; scoring needs a reranker")
    head_ids = torch.tensor([head], dtype=torch.long, device=model.device)
    head_cache = model.backbone(input_ids=head_ids, use_cache=True).past_key_values
    head_kv = [(layer.keys, layer.values) for layer in head_cache.layers]
    logits = np.empty(len(tails), dtype=np.float32)
    for batch in batches:
        ids, last = right_padded([tails[i] for i in batch], model.pad_id, model.device)
        cache = _repeat(head_kv, len(batch))
        positions = torch.arange(len(head), len(head) + ids.shape[1], device=model.device).expand(len(batch), -1)
        hidden = model.backbone(input_ids=ids, past_key_values=cache, position_ids=positions,
                                use_cache=True).last_hidden_state
        final = hidden[torch.arange(len(batch), device=ids.device), last].float()
        logits[batch] = (final @ model.yes_minus_no).cpu().numpy()
    return logits


def _repeat(head_kv: list[tuple[torch.Tensor, torch.Tensor]], batch_size: int) -> DynamicCache:
    """A fresh cache holding the head for `batch_size` rows (views; the forward pass copies on append)."""
    cache = DynamicCache()
    for layer, (keys, values) in enumerate(head_kv):
        cache.update(keys.expand(batch_size, -1, -1, -1), values.expand(batch_size, -1, -1, -1), layer)
    return cache
