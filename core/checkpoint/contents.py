"""A checkpoint's config.json, tokenizer files and weight-file list, read without torch or transformers.

transformers' tokenizer classes parse the 151k-token vocabulary a second time in Python, and its
config classes fill in defaults. For a checkpoint that spells out a standard Qwen3 decoder, this
module reads config.json and tokenizer.json itself and yields exactly what transformers would: the
same token ids and the same sizes. Anything it does not recognise as equal to transformers' reading
(a missing config key, another rope type, another tokenizer pipeline, ...) makes `read_checkpoint`
return None, and the caller reads through transformers instead: this path may only be faster,
never different. The remote client and the index use it without importing torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers

from ..errors import ModelLoadError

WEIGHTS, WEIGHTS_INDEX = "model.safetensors", "model.safetensors.index.json"
# Tokenizer classes whose transformers loading keeps tokenizer.json as it is.
FILE_AS_IS = {"TokenizersBackend", "PreTrainedTokenizerFast"}
# transformers 5 rebuilds these around tokenizer.json's vocabulary and merges with a fixed pipeline
# (NFC, this split pattern, byte-level): the file is used as is only when it holds that pipeline.
QWEN2_CLASSES = {"Qwen2Tokenizer", "Qwen2TokenizerFast"}
QWEN2_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
SHAPE_INTEGERS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
)


@dataclass(frozen=True)
class DecoderShape:
    """The parts of a Qwen3 config.json that decide the weights and the forward pass."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    attention_bias: bool
    tie_word_embeddings: bool
    model_type: str = "qwen3"
    hidden_act: str = "silu"  # read by packed.unsupported(); other values never get here
    layer_types: tuple[str, ...] = ()  # likewise: full attention everywhere


@dataclass(frozen=True)
class CheckpointFiles:
    """A checkpoint's shape and tokenizer, read from its files without transformers or torch."""

    shape: DecoderShape
    tokenizer: Tokenizer


def read_checkpoint(source: str, access: dict[str, Any]) -> CheckpointFiles | None:
    """The shape and tokenizer of `source` (a directory or hub id), or None when transformers must read it."""
    tokenizer_file, tokenizer_config_file = (
        _find(source, name, access) for name in ("tokenizer.json", "tokenizer_config.json")
    )
    if tokenizer_file is None or tokenizer_config_file is None:
        return None
    config, tokenizer_config = read_config(source, access), _read_json(tokenizer_config_file)
    if config is None or tokenizer_config is None:
        return None
    shape = decoder_shape(config)
    tokenizer = tokenizer_from_files(tokenizer_file, tokenizer_config) if shape is not None else None
    return CheckpointFiles(shape, tokenizer) if shape is not None and tokenizer is not None else None


def read_config(source: str, access: dict[str, Any]) -> dict[str, Any] | None:
    """`source`'s config.json as written (no default filled in), or None when it has no readable one."""
    config_file = _find(source, "config.json", access)
    return _read_json(config_file) if config_file is not None else None


def weight_files(source: str, access: dict[str, Any]) -> list[str] | None:
    """The safetensors files of `source`, one or the shards its index names; None when it has none."""
    single = _find(source, WEIGHTS, access)
    if single is not None:
        return [single]
    index_file = _find(source, WEIGHTS_INDEX, access)
    index = _read_json(index_file) if index_file is not None else None
    weight_map = index.get("weight_map") if index is not None else None
    if not isinstance(weight_map, dict) or not weight_map:
        return None
    names = sorted(set(weight_map.values()), key=str)
    for name in names:  # names read from disk: a shard must sit beside the index, not anywhere else
        if (
            not isinstance(name, str)
            or os.path.basename(name) != name
            or name.startswith(".")
            or not name.endswith(".safetensors")
        ):
            raise ModelLoadError(f"{WEIGHTS_INDEX} of {source!r} names a weight file outside the checkpoint: {name!r}")
    files = [_find(source, name, access) for name in names]
    return None if any(path is None for path in files) else [path for path in files if path is not None]


def decoder_shape(config: dict[str, Any]) -> DecoderShape | None:
    """The shape of a plain Qwen3 decoder that config.json states in full, else None.

    Keys transformers would fill with defaults must be present, so that no default of ours can
    differ from transformers'; sliding windows, rope scaling and quantisation go to transformers.
    """
    if config.get("model_type") != "qwen3" or config.get("quantization_config") is not None:
        return None
    integers: dict[str, Any] = {name: config.get(name) for name in SHAPE_INTEGERS}
    if not all(type(value) is int and value > 0 for value in integers.values()):
        return None
    eps, theta = config.get("rms_norm_eps"), _rope_theta(config)
    bias, tied = config.get("attention_bias", False), config.get("tie_word_embeddings")
    if not (
        isinstance(eps, int | float)
        and isinstance(theta, int | float)
        and eps > 0
        and theta > 0
        and type(bias) is bool
        and type(tied) is bool
    ):
        return None
    if config.get("hidden_act", "silu") != "silu" or config.get("use_sliding_window", False) is not False:
        return None
    if any(kind != "full_attention" for kind in config.get("layer_types") or ()):
        return None
    if "partial_rotary_factor" in config or config.get("rope_scaling") not in (None, {}, config.get("rope_parameters")):
        return None
    return DecoderShape(
        **integers, rms_norm_eps=float(eps), rope_theta=float(theta), attention_bias=bias, tie_word_embeddings=tied
    )


def tokenizer_from_files(tokenizer_file: str, tokenizer_config: dict[str, Any]) -> Tokenizer | None:
    """tokenizer.json as transformers would build it from these files, or None where they might differ."""
    tokenizer_class = tokenizer_config.get("tokenizer_class")
    rebuilt = tokenizer_class in QWEN2_CLASSES
    if not rebuilt and tokenizer_class not in FILE_AS_IS:
        return None
    try:
        tokenizer = Tokenizer.from_file(tokenizer_file)
    except Exception:  # noqa: BLE001 - the tokenizers library's own error types; transformers will report it
        return None
    tokenizer.no_truncation()  # a tokenizer.json may carry these; token ids are never cut or padded here
    tokenizer.no_padding()
    if rebuilt and not _has_qwen2_pipeline(tokenizer, tokenizer_config):
        return None
    return tokenizer if _same_added_tokens(tokenizer, tokenizer_config, both_ways=rebuilt) else None


def _find(source: str, name: str, access: dict[str, Any]) -> str | None:
    """The local path of one file of the checkpoint, or None when it has none (or it cannot be had)."""
    if os.path.isdir(source):
        path = os.path.join(source, name)
        return path if os.path.isfile(path) else None
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(
            source,
            name,
            revision=access.get("revision"),
            token=access.get("token"),
            local_files_only=bool(access.get("local_files_only")),
        )
    except Exception:  # noqa: BLE001 - missing or unreachable: transformers then loads it, with its errors
        return None


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
    except (OSError, ValueError, RecursionError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _rope_theta(config: dict[str, Any]) -> object:
    """The base of the default rope type, from transformers 5's `rope_parameters` or 4's `rope_theta`."""
    parameters = config.get("rope_parameters")
    if parameters is None:
        return config.get("rope_theta") if config.get("rope_scaling") is None else None
    if not isinstance(parameters, dict) or set(parameters) - {"rope_type", "rope_theta"}:
        return None
    if parameters.get("rope_type", "default") != "default":
        return None
    return parameters.get("rope_theta", config.get("rope_theta"))


def _state(component: Any) -> Any:
    """A tokenizer component's settings as JSON data, without `trim_offsets` (it moves offsets, never ids)."""
    data = json.loads(component.__getstate__()) if component is not None else None
    if isinstance(data, dict):
        data.pop("trim_offsets", None)
        for name in ("pretokenizers", "normalizers"):
            if isinstance(data.get(name), list):
                data[name] = [_drop_trim_offsets(part) for part in data[name]]
    return data


def _drop_trim_offsets(part: Any) -> Any:
    return {key: value for key, value in part.items() if key != "trim_offsets"} if isinstance(part, dict) else part


def _has_qwen2_pipeline(tokenizer: Tokenizer, tokenizer_config: dict[str, Any]) -> bool:
    """Whether the file's normaliser, pre-tokeniser and BPE settings equal the ones transformers 5 builds."""
    prefix_space = bool(tokenizer_config.get("add_prefix_space") or False)
    expected_split = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=prefix_space, use_regex=False),
        ]
    )
    model = tokenizer.model
    plain_bpe = (
        type(model).__name__ == "BPE"
        and model.dropout is None
        and not model.unk_token
        and not model.continuing_subword_prefix
        and not model.end_of_word_suffix
        and not model.fuse_unk
        and not model.byte_fallback
        and not model.ignore_merges
    )
    return (
        plain_bpe
        and _state(tokenizer.normalizer) == _state(normalizers.NFC())
        and _state(tokenizer.pre_tokenizer) == _state(expected_split)
    )


def _same_added_tokens(tokenizer: Tokenizer, tokenizer_config: dict[str, Any], both_ways: bool) -> bool:
    """Whether tokenizer_config.json's added tokens are the file's, with the same ids and matching rules.

    transformers adds the config's tokens to the file's; when it rebuilds the tokenizer (`both_ways`)
    the config's list is the whole list, so it must name every one of the file's.
    """
    listed = tokenizer_config.get("added_tokens_decoder")
    if listed is None:
        return not both_ways
    if not isinstance(listed, dict):
        return False
    present = {str(index): token for index, token in tokenizer.get_added_tokens_decoder().items()}
    if both_ways and set(listed) != set(present):
        return False
    for index, entry in listed.items():
        token = present.get(index)
        if token is None or not isinstance(entry, dict):
            return False
        flags = ("content", "lstrip", "rstrip", "single_word", "normalized", "special")
        if any(name in entry and entry[name] != getattr(token, name) for name in flags):
            return False
    return True
