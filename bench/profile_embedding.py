"""Where the GPU time of one 512-token embedding pass goes: the top CUDA kernels by total time.

    python bench/profile_embedding.py --tokenizers DIR     # needs CUDA
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokenizers", type=Path, default=None)
    args = parser.parse_args()
    dirs = write_checkpoints(Path(tempfile.mkdtemp()), torch.bfloat16, "cuda", args.tokenizers)
    embedder = Embedder(str(dirs["embedding"]), device="cuda")
    batch = texts(256, 507, 507, seed=3)
    embedder.embed_documents(batch)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as trace:
        embedder.embed_documents(batch)
        torch.cuda.synchronize()
    print(trace.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=60))


if __name__ == "__main__":
    main()
