"""`python -m qwen3_rag ...` runs the `qwen3-rag` command."""

import sys

from .cli import main

sys.exit(main())
