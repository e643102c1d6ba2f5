"""OpenVINO (CPU plugin): f32 (INFERENCE_PRECISION_HINT=f32), its default precision (bf16 on CPUs with
AMX / AVX512-BF16, f32 elsewhere), int8 weights (nncf.compress_weights, INT8_ASYM; default precision),
and full static int8 (nncf.quantize: int8 weights and activations in the matrix products, calibrated on
texts generated here, transformer preset; default precision for what stays float).

Runs in .venv-openvino (`make peers-setup`). The model is ov.convert_model of the checkpoint with its
last-token output (torch_export.py), through torch.export (dynamic batch and sequence), saved as IR with
its f32 weights kept f32 (compress_to_fp16=False: the save's default would round them to fp16). Texts go
through the checkpoint's own tokenizer, in length-sorted, left-padded batches of --batch-size.

The export takes transformers' eager attention (an additive mask of the dtype's lowest value), not its
sdpa one: from the sdpa graph OpenVINO gives NaN vectors for left-padded batches (the padding rows'
queries see no key, their NaN reaches the real tokens through the next layer's keys and values) and,
at its default bf16 precision on 1 thread, died with SIGFPE. OpenVINO fuses the eager pattern into its
own attention kernel.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import hf_tokenizer, length_sorted_batches, main, padded_batch, token_ids

VARIANTS = ["f32", "default", "int8w", "int8"]
IR = {"f32": "ir-f32", "default": "ir-f32", "int8w": "ir-int8w", "int8": "ir-int8"}
CALIBRATION_TEXTS = 64  # one text a sample, 10-300 words: the lengths the benchmark embeds


def model_path(work: Path, variant: str) -> Path:
    return work / IR[variant] / "model.xml"


def to_ir(model_dir: Path, target: Path) -> dict:
    import openvino as ov
    import torch
    from torch_export import dynamic_shapes, example_inputs, last_token_module

    module = last_token_module(model_dir, attention="eager")
    input_ids, attention_mask = example_inputs()
    with torch.no_grad():
        program = torch.export.export(
            module, (), {"input_ids": input_ids, "attention_mask": attention_mask}, dynamic_shapes=dynamic_shapes()
        )
        model = ov.convert_model(program)
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, target, compress_to_fp16=False)
    return {"converter": f"ov.convert_model(torch.export.export(...)) torch {torch.__version__}"}


def convert(model_dir: Path, work: Path, variant: str) -> dict:
    import openvino as ov

    facts = {"openvino": ov.__version__}
    f32 = model_path(work, "f32")
    if not f32.exists():
        start = time.perf_counter()
        facts.update(to_ir(model_dir, f32))
        facts["convert_seconds"] = time.perf_counter() - start
    elif variant == "default":
        facts["note"] = "reuses the f32 IR; only the precision hint differs"
    if variant == "int8w":
        import nncf

        start = time.perf_counter()
        model = nncf.compress_weights(ov.Core().read_model(f32))  # INT8_ASYM, per channel: its default
        target = model_path(work, "int8w")
        target.parent.mkdir(parents=True, exist_ok=True)
        ov.save_model(model, target, compress_to_fp16=False)
        facts.update(nncf=nncf.__version__, compress="nncf.compress_weights() defaults (INT8_ASYM)")
        facts["compress_seconds"] = time.perf_counter() - start
    if variant == "int8":
        facts.update(quantize_statically(model_dir, f32, model_path(work, "int8")))
    facts["model_bytes"] = sum(f.stat().st_size for f in model_path(work, variant).parent.iterdir())
    return facts


def calibration_texts(count: int = CALIBRATION_TEXTS) -> list[str]:
    """Seeded texts of 10-300 words drawn from a small English vocabulary: a calibration set made here, so
    the quantised model never sees the timed texts."""
    words = (
        "the of and to in is that for it as with was on by be at this from an which or have are not but "
        "index search query document model vector token layer weight cache server folder file answer key "
        "river city mountain history science music energy market health language network security"
    ).split()
    rng = np.random.default_rng(7)
    return [" ".join(rng.choice(words, size=int(rng.integers(10, 301)))) for _ in range(count)]


def quantize_statically(model_dir: Path, f32: Path, target: Path) -> dict:
    import nncf
    import openvino as ov

    start = time.perf_counter()
    tokenizer = hf_tokenizer(model_dir)
    samples = []
    for ids in token_ids(tokenizer, calibration_texts()):
        input_ids, mask = padded_batch([ids])
        samples.append({"input_ids": input_ids, "attention_mask": mask})
    model = nncf.quantize(
        ov.Core().read_model(f32),
        nncf.Dataset(samples),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(samples),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, target, compress_to_fp16=False)
    return {
        "nncf": nncf.__version__,
        "quantize": f"nncf.quantize(model_type=TRANSFORMER), {len(samples)} generated calibration texts",
        "quantize_seconds": time.perf_counter() - start,
    }


def load(args):
    import openvino as ov
    import openvino.properties as props
    import openvino.properties.hint as hints

    config = {props.inference_num_threads: args.threads, props.num_streams: 1, hints.performance_mode: "LATENCY"}
    if args.variant == "f32":
        config[hints.inference_precision] = "f32"
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model_path(args.work, args.variant)), "CPU", config)
    request = compiled.create_infer_request()
    tokenizer = hf_tokenizer(args.model_dir)

    def embed(texts):
        ids = token_ids(tokenizer, texts)
        out = None
        for batch in length_sorted_batches([len(x) for x in ids], args.batch_size):
            input_ids, mask = padded_batch([ids[i] for i in batch])
            result = request.infer({"input_ids": input_ids, "attention_mask": mask})
            hidden = np.asarray(result[compiled.output(0)], dtype=np.float32)
            if out is None:
                out = np.zeros((len(texts), hidden.shape[-1]), dtype=np.float32)
            out[batch] = hidden
        return out, sum(len(x) for x in ids)

    precision = compiled.get_property(hints.inference_precision)
    facts = {
        "engine": "openvino",
        "version": ov.__version__.split("-")[0],
        "build": ov.__version__,
        "inference_precision": precision.get_type_name() if hasattr(precision, "get_type_name") else str(precision),
        "inference_num_threads": compiled.get_property(props.inference_num_threads),
        "num_streams": str(compiled.get_property(props.num_streams)),
        "precision_hint_set": args.variant == "f32",
    }
    return embed, facts


if __name__ == "__main__":
    main(VARIANTS, convert, load)
