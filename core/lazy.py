"""Names a package exports but imports on first use (PEP 562), so that importing the package stays
cheap: torch and LanceDB each take seconds to import, and not every caller needs both."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports_on_use(
    namespace: dict[str, Any], modules: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's `__getattr__` and `__dir__`, given its `globals()` and each name's (relative) module."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(modules[name], package), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *modules})

    return __getattr__, __dir__
