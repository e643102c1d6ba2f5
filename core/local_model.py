"""What `Embedder` and `Reranker` share: a model object whose backend is a checkpoint loaded in this process."""

from __future__ import annotations

from .kernels.loading import LoadedModel
from .model_base import ModelBase


class LocalModel(ModelBase):
    """Made from settings without `base_url`; `model` is the loaded checkpoint, shared by every object that
    names it with the same loading settings."""

    @property
    def model(self) -> LoadedModel:
        return self.backend.model

    @property
    def batch_tokens(self) -> int:
        """Tokens per forward pass (the setting, or the device's default)."""
        return self.backend.batch_tokens

    @property
    def batch_size(self) -> int | None:
        return self.backend.batch_size

    def _described(self, details: str) -> str:
        model = self.model
        return (
            f"{type(self).__name__}(model={model.key.source!r}, device='{model.device}', dtype={model.compute_dtype}, "
            f"attention='{model.attention_path}', loader='{model.loader}', {details})"
        )
