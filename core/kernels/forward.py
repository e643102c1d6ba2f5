"""Padding-free forward pass of a Qwen3 decoder, reading the weights of transformers' own modules.

A batch's sequences sit side by side in one token matrix (`packing.py`), so every linear layer sees
real tokens only, whatever the mix of lengths; attention keeps them apart (`attention.py`). Both consumers
read one vector per sequence (last-token pooling, the yes/no head), so the last layer computes its
queries, attention output and MLP for each sequence's last position only.

The arithmetic is transformers' Qwen3 layer, op for op (RMSNorm in fp32, rotary embedding from
the model's own `rotary_emb`, SiLU-gated MLP); only the grouping of elementwise work differs.
Linear layers are called as modules, so the int8 mode's `Int8Linear` (see `int8.py`) slots in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .packing import Attend, Packed, pack


@dataclass
class HeadCache:
    """Keys and values of a prompt head shared by every sequence: per layer, (head tokens, kv heads, head_dim)."""

    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.keys[0].shape[0] if self.keys else 0


def unsupported(config) -> str | None:
    """Why this config needs transformers' own forward pass, or None when the packed pass reproduces it."""
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"hidden_act={config.hidden_act!r}"
    if "sliding_attention" in (getattr(config, "layer_types", None) or ()):
        return "sliding-window attention layers"
    return None


@torch.inference_mode()
def last_hidden_states(backbone: Any, packed: Packed, attend: Attend, head: HeadCache | None = None) -> torch.Tensor:
    """Final-normed hidden state at each sequence's last token, (sequences, hidden), in the model's dtype."""
    hidden = _run_layers(backbone, packed, attend, head, cache=None)
    return _rms_norm(hidden, backbone.norm)


@torch.inference_mode()
def encode_head(backbone: Any, ids: list[int], attend: Attend) -> HeadCache:
    """Keys and values of every layer for one shared head; its outputs are never needed."""
    cache = HeadCache()
    _run_layers(backbone, pack([ids], _device_of(backbone)), attend, None, cache=cache)
    return cache


def _device_of(backbone: Any) -> torch.device:
    return backbone.embed_tokens.weight.device


def _run_layers(
    backbone: Any, packed: Packed, attend: Attend, head: HeadCache | None, cache: HeadCache | None
) -> torch.Tensor:
    hidden = backbone.embed_tokens(packed.ids)
    cos, sin = backbone.rotary_emb(hidden, packed.positions[None])
    cos, sin = cos[0, :, None, :], sin[0, :, None, :]  # (tokens, 1, head_dim): one row for every head
    layers = backbone.layers[: backbone.config.num_hidden_layers]
    for index, layer in enumerate(layers):
        final = index == len(layers) - 1
        attn = layer.self_attn
        normed = _rms_norm(hidden, layer.input_layernorm)
        keys = _rotate(_rms_norm(_project(normed, attn.k_proj, attn.head_dim), attn.k_norm), cos, sin)
        values = _project(normed, attn.v_proj, attn.head_dim)
        if cache is not None:
            cache.keys.append(keys)
            cache.values.append(values)
            if final:  # a head's last layer is only read for its keys and values
                return hidden
        if final:  # everything after the keys and values only matters at the last tokens
            hidden, normed = hidden[packed.last], normed[packed.last]
            q_cos, q_sin = cos[packed.last], sin[packed.last]
        else:
            q_cos, q_sin = cos, sin
        queries = _rotate(_rms_norm(_project(normed, attn.q_proj, attn.head_dim), attn.q_norm), q_cos, q_sin)
        past = None if head is None else (head.keys[index], head.values[index])
        mixed = attend(queries, keys, values, packed, attn.scaling, last_only=final, head=past)
        hidden = hidden + attn.o_proj(mixed.flatten(1))
        hidden += _mlp(_rms_norm(hidden, layer.post_attention_layernorm), layer.mlp)
    return hidden


def _project(x: torch.Tensor, linear: Any, head_dim: int) -> torch.Tensor:
    return linear(x).view(x.shape[0], -1, head_dim)


def _rms_norm(x: torch.Tensor, norm: Any) -> torch.Tensor:
    """Qwen3RMSNorm: normalise in fp32, cast back to the input dtype, then scale by the weight."""
    weight, eps = norm.weight, norm.variance_epsilon
    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return _normalised(x, eps).mul_(weight)
    return weight * _normalised(x.float(), eps).to(x.dtype)


def _normalised(x: torch.Tensor, eps: float) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) over the last dim, from one reduction pass (2-4x faster than F.rms_norm on CPU)."""
    scale = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square_().div_(x.shape[-1]).add_(eps).rsqrt_()
    return x * scale


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x * cos + rotate_half(x) * sin, without materialising rotate_half."""
    half = x.shape[-1] // 2
    out = x * cos
    out[..., :half].addcmul_(x[..., half:], sin[..., :half], value=-1)
    out[..., half:].addcmul_(x[..., :half], sin[..., half:])
    return out


def _mlp(x: torch.Tensor, mlp: Any) -> torch.Tensor:
    gate = F.silu(mlp.gate_proj(x), inplace=True)
    gate.mul_(mlp.up_proj(x))
    return mlp.down_proj(gate)
