"""ONNX Runtime (CPU execution provider): fp32, and dynamic int8 (onnxruntime.quantization.quantize_dynamic).

Runs in .venv-ort (`make peers-setup`). The graph is torch.onnx.export's (the dynamo exporter, weights as
external data: the fp32 0.6B model is over protobuf's 2 GiB), of the checkpoint with its last-token
output (torch_export.py). Texts go through the checkpoint's own tokenizer, in length-sorted, left-padded
batches of --batch-size; every setting the session got is in result.json.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import hf_tokenizer, length_sorted_batches, main, padded_batch, token_ids

VARIANTS = ["fp32", "int8"]


def model_path(work: Path, variant: str) -> Path:
    return work / f"onnx-{variant}" / "model.onnx"


def export(model_dir: Path, target: Path) -> dict:
    import torch
    from torch_export import dynamic_shapes, example_inputs, last_token_module

    target.parent.mkdir(parents=True, exist_ok=True)
    module = last_token_module(model_dir)
    with torch.no_grad():
        program = torch.onnx.export(
            module,
            example_inputs(),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden"],
            dynamic_shapes=dynamic_shapes(),
            dynamo=True,
            optimize=True,
        )
    program.save(str(target), external_data=True)
    return {"exporter": f"torch.onnx.export(dynamo=True) torch {torch.__version__}"}


def convert(model_dir: Path, work: Path, variant: str) -> dict:
    import onnxruntime

    fp32 = model_path(work, "fp32")
    facts = {"onnxruntime": onnxruntime.__version__}
    if not fp32.exists():
        start = time.perf_counter()
        facts.update(export(model_dir, fp32))
        facts["export_seconds"] = time.perf_counter() - start
    if variant == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        target = model_path(work, "int8")
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        quantize_dynamic(fp32, target, weight_type=QuantType.QInt8, use_external_data_format=True)
        facts["quantize"] = "quantize_dynamic(weight_type=QInt8), its defaults otherwise (per tensor, MatMul weights)"
        facts["quantize_seconds"] = time.perf_counter() - start
    facts["model_bytes"] = sum(f.stat().st_size for f in model_path(work, variant).parent.iterdir())
    return facts


def load(args):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(
        str(model_path(args.work, args.variant)), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = hf_tokenizer(args.model_dir)

    def embed(texts):
        ids = token_ids(tokenizer, texts)
        out = np.zeros((len(texts), session.get_outputs()[0].shape[-1]), dtype=np.float32)
        for batch in length_sorted_batches([len(x) for x in ids], args.batch_size):
            input_ids, mask = padded_batch([ids[i] for i in batch])
            out[batch] = session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        return out, sum(len(x) for x in ids)

    facts = {
        "engine": "onnxruntime",
        "version": ort.__version__,
        "providers": session.get_providers(),
        "intra_op_num_threads": args.threads,
        "inter_op_num_threads": 1,
        "graph_optimization_level": "ORT_ENABLE_ALL",
    }
    return embed, facts


if __name__ == "__main__":
    main(VARIANTS, convert, load)
