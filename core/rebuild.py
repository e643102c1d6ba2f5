"""Copying and pickling the core objects: by their constructor arguments, never by their internals.

A loaded model holds a lock and GPU tensors, neither of which copies or pickles well. A copy
is built anew from the same arguments instead: in the same process the model cache hands it the
same weights, and in another process (a pickled LangChain chain, a Ray task) it loads them again.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

Init = TypeVar("Init", bound=Callable[..., None])


def records_arguments(init: Init) -> Init:
    """Decorate `__init__` so that the instance keeps the arguments it was built with."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def recording(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(self, *args, **kwargs)
        self._arguments = {name: value for name, value in list(bound.arguments.items())[1:]}

    return recording  # type: ignore[return-value]


class RebuiltOnCopy:
    """`copy.copy`, `copy.deepcopy` and `pickle` rebuild the object from its constructor arguments."""

    _arguments: dict[str, Any]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._arguments))


def _rebuild(cls: type, arguments: dict[str, Any]) -> Any:
    return cls(**arguments)
