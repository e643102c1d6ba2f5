"""What every example shares: a few facts, two questions, and the model arguments."""

from __future__ import annotations

import argparse

from qwen3_rag import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL

FACTS = [
    "The capital of China is Beijing.",
    "Gravity is a force that attracts two bodies towards each other.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Paris is the capital and largest city of France.",
    "Water boils at 100 degrees Celsius at sea level.",
]
QUESTIONS = ["What is the capital of China?", "Why do apples fall to the ground?"]


def model_arguments(description: str | None) -> argparse.Namespace:
    """--embedding-model, --reranker-model (hub ids by default, or local directories) and --device."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedding-model", default=DEFAULT_EMBEDDING_MODEL, help="hub id or local directory")
    parser.add_argument("--reranker-model", default=DEFAULT_RERANKER_MODEL, help="hub id or local directory")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")
    return parser.parse_args()
