"""The reranker's shared-head cache for transformers' own (padded) forward pass."""

from __future__ import annotations

import torch
from transformers import DynamicCache


class SharedPrefixCache(DynamicCache):
    """A cache that stores the shared head once (batch 1) and never stores document keys/values.

    After the head's forward pass, each layer attends over cat(head, documents) built on the fly
    and dropped after use: memory stays at one layer's keys/values, and the same cache serves
    every document batch without a copy per batch (transformers' DynamicCache would keep all
    layers' document keys/values for the whole forward pass).
    """

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        if len(self.layers) <= layer_idx or not self.layers[layer_idx].is_initialized:
            return super().update(key_states, value_states, layer_idx, *args, **kwargs)  # the head itself
        layer, rows = self.layers[layer_idx], key_states.shape[0]
        return (
            torch.cat([layer.keys.expand(rows, -1, -1, -1), key_states], dim=-2),
            torch.cat([layer.values.expand(rows, -1, -1, -1), value_states], dim=-2),
        )
