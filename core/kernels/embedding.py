"""The embedding kernel: causal forward (packed or right-padded), last-token pooling, Matryoshka cut, L2 norm."""

from __future__ import annotations

import numpy as np
import torch

from .forward import last_hidden_states
from .guards import check_finite, split_on_out_of_memory
from .loading import LoadedModel
from .packing import pack
from .threads import threads_for_load


def right_padded(batch: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids padded on the right, and each row's last real position.

    Under causal attention a token never sees the positions after it, so right padding needs no
    attention mask: real tokens compute exactly what they would alone, with their true positions.
    """
    longest = max(len(ids) for ids in batch)
    padded = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    for row, ids in enumerate(batch):
        padded[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    last = torch.tensor([len(ids) - 1 for ids in batch])
    return padded.to(device), last.to(device)


def embed_batch(model: LoadedModel, batch: list[list[int]], dim: int) -> np.ndarray:
    """L2-normalised float32 embeddings (len(batch), dim) of sequences already ending in <|endoftext|>."""
    with threads_for_load(model.device, model.dtype):
        return split_on_out_of_memory(
            lambda rows: _embed_rows(model, [batch[i] for i in rows], dim), list(range(len(batch)))
        )


@torch.inference_mode()
def _embed_rows(model: LoadedModel, batch: list[list[int]], dim: int) -> np.ndarray:
    if model.attend is not None:
        last_states = last_hidden_states(model.backbone, pack(batch, model.device), model.attend)
    else:
        ids, last = right_padded(batch, model.pad_id, model.device)
        hidden = model.backbone(input_ids=ids, use_cache=False).last_hidden_state
        last_states = hidden[torch.arange(len(batch), device=ids.device), last]
    pooled = check_finite(last_states.float()[:, :dim], model.dtype, "embeddings")
    return torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy()
