"""The reranker kernel: the shared head's keys and values computed once, documents run after them.

Only the last position of each document reaches the yes/no head, as one fp32 dot product;
vocabulary-sized logits are never formed.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import torch

from .embedding import right_padded
from .forward import HeadCache, encode_head, last_hidden_states
from .guards import check_finite, split_on_out_of_memory
from .loading import LoadedModel
from .packing import Attend, pack
from .threads import threads_for_load

if TYPE_CHECKING:
    from .prefix_cache import SharedPrefixCache


@torch.inference_mode()
def score_batches(
    model: LoadedModel, head: list[int], tails: list[list[int]], batches: Iterable[list[int]]
) -> np.ndarray:
    """Log-odds logit(yes) - logit(no) for `head + tails[i]`, for every index in `batches`."""
    yes_minus_no = model.yes_minus_no
    if yes_minus_no is None:
        raise TypeError(f"{model.key.source} was loaded as an embedding model; scoring needs a reranker")
    if model.attend is not None:
        with threads_for_load(model.device, model.dtype):
            encoded = encode_head(model.backbone, head, model.attend)
        run = partial(_score_packed, model, model.attend, yes_minus_no, encoded, tails)
    else:
        from .prefix_cache import SharedPrefixCache  # transformers' cache API, only for its own forward pass

        cache = SharedPrefixCache()
        model.backbone(input_ids=torch.tensor([head], device=model.device), past_key_values=cache, use_cache=True)
        run = partial(_score_padded, model, yes_minus_no, cache, len(head), tails)
    logits = np.empty(len(tails), dtype=np.float32)
    for batch in batches:
        with threads_for_load(model.device, model.dtype):  # per batch: other processes come and go
            logits[batch] = split_on_out_of_memory(run, batch)
    return logits


def _score_packed(
    model: LoadedModel,
    attend: Attend,
    yes_minus_no: torch.Tensor,
    head: HeadCache,
    tails: list[list[int]],
    rows: list[int],
) -> np.ndarray:
    """Log-odds of documents `rows`, packed after the head's cached keys and values."""
    packed = pack([tails[i] for i in rows], model.device, offset=head.length)
    return _log_odds(model, yes_minus_no, last_hidden_states(model.backbone, packed, attend, head))


@torch.inference_mode()
def _score_padded(
    model: LoadedModel,
    yes_minus_no: torch.Tensor,
    cache: SharedPrefixCache,
    offset: int,
    tails: list[list[int]],
    rows: list[int],
) -> np.ndarray:
    """Log-odds of documents `rows`, which continue the cached head ending at position `offset`."""
    ids, last = right_padded([tails[i] for i in rows], model.pad_id, model.device)
    positions = torch.arange(offset, offset + ids.shape[1], device=model.device).expand(len(rows), -1)
    hidden = model.backbone(
        input_ids=ids, past_key_values=cache, position_ids=positions, use_cache=True
    ).last_hidden_state
    return _log_odds(model, yes_minus_no, hidden[torch.arange(len(rows), device=ids.device), last])


def _log_odds(model: LoadedModel, yes_minus_no: torch.Tensor, final: torch.Tensor) -> np.ndarray:
    return check_finite(final.float() @ yes_minus_no, model.dtype, "reranker logits").cpu().numpy()
