"""The flat batch type of the packed forward pass: sequences laid end to end, with their positions and
boundaries, and the signature every attention path implements over it (`attention.py` provides
them, `forward.py` calls them). Kept apart so that neither of those imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

KV = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Packed:
    """Token ids of several sequences laid end to end, with their positions and boundaries."""

    ids: torch.Tensor  # (tokens,)
    positions: torch.Tensor  # (tokens,) each sequence counts from `offset`
    starts: list[int]  # sequence i is ids[starts[i]:starts[i + 1]]
    last: torch.Tensor  # (sequences,) index of each sequence's last token

    @property
    def count(self) -> int:
        return len(self.starts) - 1


def pack(sequences: list[list[int]], device: torch.device, offset: int = 0) -> Packed:
    """Lay `sequences` (none empty) end to end; positions start at `offset` (the length of a cached head)."""
    starts = [0]
    for ids in sequences:
        starts.append(starts[-1] + len(ids))
    flat = torch.tensor([token for ids in sequences for token in ids], dtype=torch.long)
    positions = torch.cat([torch.arange(offset, offset + len(ids)) for ids in sequences])
    last = torch.tensor(starts[1:]) - 1
    return Packed(flat.to(device), positions.to(device), starts, last.to(device))


class Attend(Protocol):
    def __call__(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        packed: Packed,
        scale: float,
        *,
        last_only: bool,
        head: KV | None,
    ) -> torch.Tensor:
        """Causal attention within each packed sequence, after the shared `head` keys/values if given.

        queries: (tokens, heads, head_dim), or (sequences, heads, head_dim) when `last_only` holds
        each sequence's last token only; keys/values: (tokens, kv_heads, head_dim).
        """
