"""Where the time of one embedding pass goes: the top operators (CPU) or kernels (CUDA) by time.

python bench/profile_embedding.py --tokenizers DIR                  # CUDA, bf16: 256 texts of 507 tokens
python bench/profile_embedding.py --device cpu --tokenizers DIR     # CPU, fp32: 6 texts of about 300 tokens
python bench/profile_embedding.py --device cpu --dtype int8         # CPU, the int8 mode
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workload import texts, write_checkpoints  # noqa: E402

from qwen3_rag import Embedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--tokenizers", type=Path, default=None)
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on cuda, float32 on cpu; or int8 on cpu")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    dtype = args.dtype or ("bfloat16" if cuda else "float32")
    weights = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    dirs = write_checkpoints(Path(tempfile.mkdtemp()), weights, args.device, args.tokenizers)
    embedder = Embedder(str(dirs["embedding"]), device=args.device, dtype=dtype)
    batch = texts(256, 507, 507, seed=3) if cuda else texts(6, 300, 300, seed=3)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    embedder.embed_documents(batch)
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as trace:
        embedder.embed_documents(batch)
        sync()
    print(f"{embedder!r}, {len(batch)} texts")
    print(
        trace.key_averages().table(
            sort_by="cuda_time_total" if cuda else "self_cpu_time_total", row_limit=18, max_name_column_width=60
        )
    )


if __name__ == "__main__":
    main()
