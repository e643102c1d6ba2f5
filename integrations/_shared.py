"""What every adapter needs from the core, written once: framework checks, core instances, rankings.

Framework-free, so each adapter stays a thin translation into its own framework's types.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ..embedder import Embedder
from ..errors import InvalidArgumentError
from ..model_factory import make_model
from ..pipeline import EmbeddingMethods, Ranked, RankingMethods
from ..reranker import Reranker
from ..validation import check_positive_int


def constructor_settings(core_class: type) -> tuple[str, ...]:
    """The keyword settings of a core class's constructor, in its order: read from the signature, so the
    names are written once, where the constructor defines them."""
    return tuple(inspect.signature(core_class).parameters)


# Constructor arguments of the core classes that adapters expose under the same names, plus the
# two that make `model_factory` build the served twin instead.
SERVED = ("base_url", "api_key")
EMBEDDER_SETTINGS = (*constructor_settings(Embedder), *SERVED)
RERANKER_SETTINGS = (*constructor_settings(Reranker), *SERVED)

Core = TypeVar("Core", EmbeddingMethods, RankingMethods)


def require(module: str, extra: str) -> None:
    """Import `module` or raise an ImportError that gives the install command for `extra`.

    The command names the framework's own package (read from our metadata), since qwen3-rag is
    installed from a clone or a git URL, where `pip install "qwen3-rag[extra]"` finds nothing.
    """
    try:
        importlib.import_module(module)
    except ImportError as error:
        packages = " ".join(f'"{requirement}"' for requirement in extra_requirements(extra)) or module
        raise ImportError(
            f"qwen3_rag.integrations.{extra.replace('-', '_')} needs the {module!r} package; install it with: "
            f'pip install {packages} (the [{extra}] extra of qwen3-rag; from a clone: pip install ".[{extra}]")'
        ) from error


def extra_requirements(extra: str) -> list[str]:
    """The requirements of one of qwen3-rag's extras, as its installed metadata lists them."""
    try:
        requirements = importlib.metadata.requires("qwen3-rag") or []
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return []
    marker = f'extra == "{extra}"'
    return [r.split(";")[0].strip() for r in requirements if marker in r.replace("'", '"')]


def core_instance(
    core_class: type, given: Core | None, settings: Mapping[str, Any], explicit: Iterable[str], argument: str
) -> Any:
    """`given` when the caller passed a core instance, else a new one from `settings`.

    Passing both an instance and settings is ambiguous (which `dim` wins?), so it is an error. The
    instance's type is checked by the adapters' pydantic fields.
    Core instances share weights through the core's cache, so a new one costs no second load.
    """
    if given is None:
        return make_model(core_class, settings)
    clashing = sorted(set(explicit) & set(settings))
    if clashing:
        raise InvalidArgumentError(
            f"pass either {argument}= or model settings, not both: {', '.join(clashing)} would be ignored; "
            f"set them on the {core_class.__name__} instead"
        )
    return given


def check_threshold(value: object, name: str = "score_threshold") -> float | None:
    """A probability cut-off in [0, 1], or None for no cut-off."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidArgumentError(f"{name}={value!r} must be a number in [0, 1] (the reranker's probability) or None")
    return float(value)


def best(
    reranker: RankingMethods,
    query: str,
    texts: Sequence[str],
    top_n: int | None,
    score_threshold: float | None,
    top_name: str = "top_n",
) -> list[Ranked]:
    """The `top_n` best texts for `query`, best first, keeping only scores >= `score_threshold`.

    `top_name` is what the framework calls `top_n`, so that an error names the user's argument.
    """
    threshold = _checked_cut(top_n, score_threshold, top_name)
    return _kept(reranker.rerank(query, texts, top_k=top_n), threshold)


async def abest(
    reranker: RankingMethods,
    query: str,
    texts: Sequence[str],
    top_n: int | None,
    score_threshold: float | None,
    top_name: str = "top_n",
) -> list[Ranked]:
    """`best` on the event loop: a remote reranker awaits its server, a local one runs in a worker thread."""
    threshold = _checked_cut(top_n, score_threshold, top_name)
    return _kept(await reranker.arerank(query, texts, top_k=top_n), threshold)


def _checked_cut(top_n: int | None, score_threshold: float | None, top_name: str) -> float | None:
    if top_n is not None:
        check_positive_int(top_n, top_name)
    return check_threshold(score_threshold)


def _kept(ranked: list[Ranked], threshold: float | None) -> list[Ranked]:
    return ranked if threshold is None else [r for r in ranked if r.score >= threshold]
