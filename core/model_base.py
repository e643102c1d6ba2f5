"""The one shape of every model object: its settings and the backend they open.

`Embedder`, `Reranker` and their served twins are each (settings, backend): the class says only how to
open its backend (load weights here, or connect to a server); what the settings mean for that checkpoint
is derived once (`resolved.py`) by the methods half (`model_methods.py`). A loaded model holds a lock and
device tensors, neither of which copies or pickles well, so `copy.copy`, `copy.deepcopy` and `pickle`
rebuild the object from its settings: in the same process the model cache hands over the same weights,
in another (a pickled LangChain chain, a Ray task) they load again.
"""

from __future__ import annotations

from typing import Any, TypeVar

from .errors import InvalidArgumentError
from .settings import ModelSettings

Built = TypeVar("Built", bound="ModelBase")


class ModelBase:
    """A model object made from one settings object and the backend they open."""

    settings: ModelSettings
    settings_class: type[ModelSettings]
    served = False  # whether the class runs its model behind `base_url`
    backend: Any  # the class that opens it names its type

    @classmethod
    def from_settings(cls: type[Built], settings: ModelSettings) -> Built:
        """The object these settings describe (the constructors end here too)."""
        if not isinstance(settings, cls.settings_class) or settings.served != cls.served:
            where = "with base_url" if cls.served else "without base_url"
            raise InvalidArgumentError(
                f"{cls.__name__} is made from {cls.settings_class.__name__} {where}, "
                f"got {type(settings).__name__}{' with base_url' if getattr(settings, 'served', False) else ''}"
            )
        built = cls.__new__(cls)
        built._become(settings)
        return built

    @property
    def name(self) -> str:
        """The model: a hub id or the resolved local directory here, the served model id on a server."""
        return str(self.backend.name)

    def _become(self, settings: Any) -> None:
        self.settings = settings
        self.backend = self.open_backend(settings)
        self._resolve(settings, self.backend)

    @staticmethod
    def open_backend(settings: Any) -> Any:
        """What runs the model these settings name: loaded here, or reached on a server."""
        raise NotImplementedError

    def _resolve(self, settings: Any, backend: Any) -> None:
        """Derive what the settings mean for the opened checkpoint (the methods half defines it)."""
        raise NotImplementedError

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.settings))


def _rebuild(cls: type[ModelBase], settings: ModelSettings) -> Any:
    return cls.from_settings(settings)
