"""What a checkpoint is, read from its files without torch or its weights: its identity and its role.

An index records which model made its vectors as an identity, never as a place to load from: a hub
id names itself; a local folder is named by a fingerprint of its config, tokenizer and weight files
(their sizes and first and last MiB, which hold a safetensors header), so the same folder moved or copied keeps its
identity and a folder whose weights changed does not. The role (embedding or reranker) is read from
the config's architectures, the weight names and sentence-transformers' module list, and only a clear
answer refuses a checkpoint given in the other role.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import Any

from ..errors import ModelLoadError
from ..registry import KNOWN_CHECKPOINTS
from .contents import WEIGHTS, WEIGHTS_INDEX

FINGERPRINT_PREFIX = "sha256:"
DESCRIBING_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", WEIGHTS_INDEX)
WEIGHT_SUFFIXES = (".safetensors", ".bin")
SAMPLE_BYTES = 1 << 20  # read from each end of a weight file: cheap, and differs between any two trainings
MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit on a header
MAX_JSON_BYTES = 64 << 20


def checkpoint_identity(source: str) -> str:
    """`source` (a hub id, or a local folder as `normalise_source` gives it) as an index records it: a hub id
    as it is, a local folder as its `fingerprint`."""
    return fingerprint(source) if os.path.isdir(source) else source


def fingerprint(directory: str) -> str:
    """ "sha256:<hex>" over the folder's describing files and, for each weight file, its name, size,
    first and last MiB (where a safetensors file keeps its header). Links are followed (the hub cache is made of them);
    anything that is not a regular file is refused rather than read (a pipe would never end)."""
    digest = hashlib.sha256()
    names = sorted(os.listdir(directory))
    for name in [n for n in DESCRIBING_FILES if n in names] + [n for n in names if n.endswith(WEIGHT_SUFFIXES)]:
        with _open_regular(os.path.join(directory, name)) as handle:
            size = os.fstat(handle.fileno()).st_size
            digest.update(f"{name}\0{size}\0".encode())
            if name.endswith(WEIGHT_SUFFIXES):
                digest.update(handle.read(SAMPLE_BYTES))
                handle.seek(max(size - SAMPLE_BYTES, 0))
                digest.update(handle.read(SAMPLE_BYTES))
            else:
                digest.update(handle.read(MAX_JSON_BYTES))
    return FINGERPRINT_PREFIX + digest.hexdigest()[:32]


def describe(identity: str) -> str:
    """An identity as a message shows it."""
    return f"a local checkpoint (fingerprint {identity})" if identity.startswith(FINGERPRINT_PREFIX) else identity


def check_role(kind: str, source: str) -> None:
    """Refuse, before any weights load or network access, a checkpoint that is clearly of the other kind."""
    known = KNOWN_CHECKPOINTS.get(source)
    role, why = (known.kind, "a published checkpoint") if known is not None else local_role(source)
    if role is not None and role != kind:
        raise ModelLoadError(f"{source} is {_a(role)} checkpoint ({why}), not {_a(kind)} one; {role_hint(role)}")


def role_hint(role: str) -> str:
    """Where a checkpoint of `role` belongs, in Python words (the command line names its option instead)."""
    return f"give it to {'Reranker' if role == 'reranker' else 'Embedder'}"


def _a(kind: str) -> str:
    return f"an {kind}" if kind == "embedding" else f"a {kind}"


def local_role(source: str) -> tuple[str | None, str]:
    """The role a local folder's files show, and why; (None, "") when they show none or both."""
    if not os.path.isdir(source):
        return None, ""
    config = _json(os.path.join(source, "config.json")) or {}
    architectures = config.get("architectures")
    architectures = [a for a in architectures if isinstance(a, str)] if isinstance(architectures, list) else []
    names = weight_names(source)
    embedding = []
    if "Qwen3Model" in architectures:
        embedding.append("its config names the bare Qwen3Model, without an output layer")
    if _has_pooling(source):
        embedding.append("it has a sentence-transformers pooling module")
    reranker = []
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        reranker.append("its config names a sequence classifier")
    if any(a.endswith("ForCausalLM") for a in architectures) and any(n.startswith("model.") for n in names):
        reranker.append("its weights are a causal language model's")
    if embedding and not reranker:
        return "embedding", embedding[0]
    if reranker and not embedding:
        return "reranker", reranker[0]
    return None, ""


def weight_names(directory: str) -> list[str]:
    """The tensor names of a local checkpoint: from its shard index, or the one safetensors file's header."""
    index = _json(os.path.join(directory, WEIGHTS_INDEX))
    weight_map = index.get("weight_map") if index is not None else None
    if isinstance(weight_map, dict):
        return [name for name in weight_map if isinstance(name, str)]
    path = os.path.join(directory, WEIGHTS)
    if not os.path.exists(path):
        return []
    try:
        with _open_regular(path) as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size)) if 0 < size <= MAX_HEADER_BYTES else {}
    except (ModelLoadError, ValueError):
        return []
    return [name for name in header if name != "__metadata__"] if isinstance(header, dict) else []


def _has_pooling(directory: str) -> bool:
    modules = _json(os.path.join(directory, "modules.json"), expect=list)
    return isinstance(modules, list) and any(
        isinstance(m, dict) and str(m.get("type", "")).endswith("Pooling") for m in modules
    )


def _json(path: str, expect: type = dict) -> Any:
    if not os.path.exists(path):
        return None
    try:
        with _open_regular(path) as handle:
            value = json.loads(handle.read(MAX_JSON_BYTES))
    except (ModelLoadError, ValueError):
        return None
    return value if isinstance(value, expect) else None


def _open_regular(path: str) -> Any:
    """`path` opened for reading without blocking, refused unless it is a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise ModelLoadError(f"cannot read {path!r} of the checkpoint ({error.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ModelLoadError(f"{path!r} of the checkpoint is not a regular file")
    return os.fdopen(fd, "rb")
