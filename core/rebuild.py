"""Copying and pickling the core objects: by their settings, never by their internals.

A loaded model holds a lock and GPU tensors, neither of which copies or pickles well. A copy
is built anew from the same settings instead: in the same process the model cache hands it the
same weights, and in another process (a pickled LangChain chain, a Ray task) it loads them again.
"""

from __future__ import annotations

from typing import Any, TypeVar

from .errors import InvalidArgumentError
from .settings import ModelSettings

Built = TypeVar("Built", bound="RebuiltOnCopy")


class RebuiltOnCopy:
    """A model object made from one settings object: `from_settings` builds it, and `copy.copy`,
    `copy.deepcopy` and `pickle` rebuild it from `settings`."""

    settings: ModelSettings
    settings_class: type[ModelSettings]
    served = False  # whether the class runs its model behind `base_url`

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

    def _become(self, settings: Any) -> None:
        """Keep `settings` and start from them (loading, or connecting to the server)."""
        self.settings = settings
        self._start(settings)

    def _start(self, settings: Any) -> None:
        raise NotImplementedError

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.settings))


def _rebuild(cls: type[RebuiltOnCopy], settings: ModelSettings) -> Any:
    return cls.from_settings(settings)
