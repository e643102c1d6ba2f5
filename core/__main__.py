"""`python -m qwen3_rag ...` runs the `qwen3-rag` command."""

from .cli import run

run()
