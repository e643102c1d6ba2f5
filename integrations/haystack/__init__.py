"""Haystack components: `Qwen3TextEmbedder`, `Qwen3DocumentEmbedder` and `Qwen3Ranker`.

Saved pipelines that use them load with the module on Haystack's deserialization allowlist:
`Pipeline.loads(yaml_text, allowed_modules=[ALLOWED_MODULE])` (see `ALLOWED_MODULE`).
"""

from .._shared import require

require("haystack", "haystack")

from .embedders import Qwen3DocumentEmbedder, Qwen3TextEmbedder  # noqa: E402
from .ranker import Qwen3Ranker  # noqa: E402

# Haystack refuses to rebuild components from modules outside its allowlist; we do not widen that
# security boundary behind the user's back on import, so loading a saved pipeline names this module.
ALLOWED_MODULE = "qwen3_rag.integrations.haystack"

__all__ = ["ALLOWED_MODULE", "Qwen3DocumentEmbedder", "Qwen3Ranker", "Qwen3TextEmbedder"]
