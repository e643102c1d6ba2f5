"""A Qwen3 decoder's weights in transformers' module layout, for the packed forward pass alone.

`packed.py` reads a backbone's weights by name (`layers[i].self_attn.q_proj.weight`, ...) and runs
the arithmetic itself, so these modules only hold tensors (linear layers are called, as nn.Linear
is); the state-dict names equal a `Qwen3Model` checkpoint's, so strict loading checks every name
and shape. Besides the linear layers' own product, the one piece of computation here is the rotary
table, done as transformers' Qwen3RotaryEmbedding does it (default rope type): the same float32
operations in the same order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint.contents import DecoderShape


class Weights(nn.Module):
    """A linear layer's weight (and bias) or a norm's scale; nothing is initialised."""

    def __init__(self, *shape: int, bias: int | None = None, eps: float | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(shape, device="meta"), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(torch.empty(bias, device="meta"), requires_grad=False)
        if eps is not None:
            self.variance_epsilon = eps


class Linear(Weights):
    """A linear layer's weight and bias; called like nn.Linear, so the int8 mode can replace it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class Embedding(Weights):
    """The token embedding table; a module (not a bare tensor) so that forward hooks see each lookup."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class Attention(nn.Module):
    def __init__(self, shape: DecoderShape):
        super().__init__()
        hidden, head_dim = shape.hidden_size, shape.head_dim
        heads, kv_heads = shape.num_attention_heads * head_dim, shape.num_key_value_heads * head_dim

        def bias(size: int) -> int | None:
            return size if shape.attention_bias else None

        self.head_dim = head_dim
        self.scaling = head_dim**-0.5
        self.q_proj = Linear(heads, hidden, bias=bias(heads))
        self.k_proj = Linear(kv_heads, hidden, bias=bias(kv_heads))
        self.v_proj = Linear(kv_heads, hidden, bias=bias(kv_heads))
        self.o_proj = Linear(hidden, heads, bias=bias(hidden))
        self.q_norm = Weights(head_dim, eps=shape.rms_norm_eps)
        self.k_norm = Weights(head_dim, eps=shape.rms_norm_eps)


class Mlp(nn.Module):
    def __init__(self, shape: DecoderShape):
        super().__init__()
        self.gate_proj = Linear(shape.intermediate_size, shape.hidden_size)
        self.up_proj = Linear(shape.intermediate_size, shape.hidden_size)
        self.down_proj = Linear(shape.hidden_size, shape.intermediate_size)


class Layer(nn.Module):
    def __init__(self, shape: DecoderShape):
        super().__init__()
        self.self_attn = Attention(shape)
        self.mlp = Mlp(shape)
        self.input_layernorm = Weights(shape.hidden_size, eps=shape.rms_norm_eps)
        self.post_attention_layernorm = Weights(shape.hidden_size, eps=shape.rms_norm_eps)


class RotaryTable(nn.Module):
    """cos/sin of each position's rotation angles, as transformers computes them for the default rope type."""

    def __init__(self, shape: DecoderShape):
        super().__init__()
        exponents = torch.arange(0, shape.head_dim, 2, dtype=torch.float) / shape.head_dim
        self.inv_freq: torch.Tensor
        self.register_buffer("inv_freq", 1.0 / (shape.rope_theta**exponents), persistent=False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angles = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        doubled = torch.cat((angles, angles), dim=-1)
        return doubled.cos().to(x.dtype), doubled.sin().to(x.dtype)  # attention scaling is 1.0 here


class Decoder(nn.Module):
    """Embedding table, layers and final norm under `Qwen3Model`'s names; `config` is the shape."""

    def __init__(self, shape: DecoderShape):
        super().__init__()
        self.config = shape
        self.embed_tokens = Embedding(shape.vocab_size, shape.hidden_size)  # nn.Embedding would initialise it
        self.layers = nn.ModuleList(Layer(shape) for _ in range(shape.num_hidden_layers))
        self.norm = Weights(shape.hidden_size, eps=shape.rms_norm_eps)
        self.rotary_emb = RotaryTable(shape)

    @property
    def device(self) -> torch.device:
        return self.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.embed_tokens.weight.dtype


def build_decoder(shape: DecoderShape, weights: dict[str, torch.Tensor], device: torch.device) -> Decoder:
    """A decoder holding exactly `weights` (names and shapes checked; each tensor already in its dtype)."""
    decoder = Decoder(shape)
    decoder.load_state_dict(weights, strict=True, assign=True)  # assign keeps each parameter's requires_grad=False
    return decoder.to(device).eval()
