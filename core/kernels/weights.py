"""A standard Qwen3 checkpoint's weights read straight from its safetensors files, without transformers'
model classes (importing them takes 2-3 s on a small CPU); `checkpoint/contents.py` reads its shape.

The decoder is built in `decoder.py`'s copy of transformers' module layout, with exactly the
tensors transformers would load. Whatever `checkpoint/contents.py` does not recognise goes to
transformers instead: this path may only be faster, never different.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import torch

from ..checkpoint.contents import DecoderShape
from ..display import progress_shows
from ..errors import ModelLoadError
from .decoder import Decoder, build_decoder


def load_decoder(
    shape: DecoderShape, files: list[str], device: torch.device, dtype: torch.dtype, output_rows: list[int]
) -> tuple[Decoder, torch.Tensor | None]:
    """The decoder on `device` in `dtype`, and the output layer's `output_rows` (None when none asked).

    The output rows come from the LM head, or from the embedding table when the two are tied, and
    are rounded to `dtype` as transformers' head would hold them; the full head is never built.
    """
    from huggingface_hub.utils import are_progress_bars_disabled
    from safetensors import safe_open
    from tqdm.auto import tqdm

    weights: dict[str, torch.Tensor] = {}
    head = None
    shapes = weight_shapes(files)
    check_sizes(dataclasses.asdict(shape), shapes)
    # The bar transformers shows too, silenced by the same setting (`qwen3-rag -q`, HF_HUB_DISABLE_PROGRESS_BARS),
    # and off where stderr is not a terminal: a log would keep its carriage returns and no newline.
    with tqdm(
        total=len(shapes),
        desc="Loading weights",
        unit="tensor",
        leave=False,
        disable=are_progress_bars_disabled() or not progress_shows(),
    ) as bar:
        for path in files:
            with safe_open(path, framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                    bar.update()
                    plain = name.removeprefix("model.")
                    if plain.endswith("rotary_emb.inv_freq"):  # older checkpoints saved the derived table
                        continue
                    if plain == "lm_head.weight":
                        if output_rows and not shape.tie_word_embeddings:
                            rows = handle.get_slice(name)
                            head = torch.cat([rows[row : row + 1] for row in output_rows]).to(dtype)
                        continue
                    if plain in weights:
                        raise ModelLoadError(f"{path} holds the weight {plain!r} twice (with and without 'model.')")
                    weights[plain] = handle.get_tensor(name).to(dtype)
    if output_rows and head is None:
        if not shape.tie_word_embeddings or "embed_tokens.weight" not in weights:
            raise ModelLoadError(
                "the checkpoint has no output layer (lm_head.weight) and does not tie it to the "
                "input embeddings (tie_word_embeddings)"
            )
        head = weights["embed_tokens.weight"][output_rows].clone()
    return build_decoder(shape, weights, device), head


def weight_shapes(files: list[str]) -> dict[str, list[int]]:
    """Every weight's shape, from the safetensors headers alone, by name without the "model." prefix."""
    from safetensors import safe_open

    shapes: dict[str, list[int]] = {}
    for path in files:
        try:
            with safe_open(path, framework="pt") as handle:
                shapes.update(
                    {name.removeprefix("model."): handle.get_slice(name).get_shape() for name in handle.keys()}
                )  # noqa: SIM118 - safe_open is not a mapping
        except Exception as error:  # noqa: BLE001 - safetensors' own error type for a damaged file
            raise ModelLoadError(
                f"{os.path.basename(path)} is not a readable safetensors file ({type(error).__name__}: {error})"
            ) from error
    return shapes


def check_sizes(stated: Mapping[str, Any], shapes: dict[str, list[int]]) -> None:
    """The sizes config.json states, against the weights' headers, before anything is built from them.

    A config.json that lies (a billion layers, a huge head_dim) would otherwise make the decoder,
    its rotary table or transformers' config objects before strict loading could notice. A size it
    leaves out is transformers' default, which strict loading checks.
    """

    def stated_sizes(*keys: str) -> list[Any] | None:
        return None if any(stated.get(key) is None for key in keys) else [stated[key] for key in keys]

    expected = {
        "embed_tokens.weight": stated_sizes("vocab_size", "hidden_size"),
        "layers.0.self_attn.q_norm.weight": stated_sizes("head_dim"),
        "layers.0.mlp.gate_proj.weight": stated_sizes("intermediate_size", "hidden_size"),
    }
    wrong = [
        f"{name} is {list(shapes.get(name, []))} where config.json implies {size}"
        for name, size in expected.items()
        if size is not None and list(shapes.get(name, [])) != size
    ]
    if "num_hidden_layers" in stated:
        layers = {int(part) for name in shapes if name.startswith("layers.") and (part := name.split(".")[1]).isdigit()}
        said = stated["num_hidden_layers"]
        if len(layers) != said or layers != set(range(len(layers))):  # the length first: `said` may be huge
            wrong.append(f"the weights hold {len(layers)} layers where config.json says {said!r}")
    if wrong:
        raise ModelLoadError(f"its config.json does not describe its weights ({'; '.join(wrong)})")
