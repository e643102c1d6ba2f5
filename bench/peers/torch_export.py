"""The checkpoint as a graph with one output, each text's last-token hidden state (before normalisation):
shared by the ONNX Runtime and OpenVINO runners, in their own environments (torch CPU + transformers).

Inputs are left-padded input_ids and attention_mask (int64, [batch, sequence], both dynamic), as the
official code feeds the model; with left padding the last column is every text's <|endoftext|>.
"""

from __future__ import annotations

from pathlib import Path

import torch


class LastToken(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        return hidden[:, -1]


def last_token_module(model_dir: Path, attention: str = "sdpa") -> LastToken:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=attention).eval()
    return LastToken(model).eval()


def example_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Two texts, one left-padded, so that the traced graph keeps the padding mask."""
    input_ids = torch.tensor([[151643] * 3 + list(range(100, 112)) + [151643], list(range(200, 215)) + [151643]])
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, :3] = 0
    return input_ids, attention_mask


def dynamic_shapes() -> dict:
    batch, sequence = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("sequence", min=2, max=32768)
    return {"input_ids": {0: batch, 1: sequence}, "attention_mask": {0: batch, 1: sequence}}
