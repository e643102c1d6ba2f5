"""What every adapter needs from the core, written once: framework checks, core instances, rankings.

Framework-free, so each adapter stays a thin translation into its own framework's types.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import InvalidArgumentError
from ..model_factory import make_model
from ..model_methods import EmbeddingMethods, Ranked, RankingMethods
from ..settings import EmbedderSettings, ModelSettings, RerankerSettings
from ..validation import check_positive_int

# The settings adapters expose under the same names: the fields of the one settings object per model.
EMBEDDER_SETTINGS = tuple(EmbedderSettings.placement())
RERANKER_SETTINGS = tuple(RerankerSettings.placement())

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
    settings_class: type[ModelSettings],
    given: Core | None,
    settings: Mapping[str, Any],
    explicit: Iterable[str],
    argument: str,
) -> Any:
    """`given` when the caller passed a core instance, else a new one from `settings` (None: the default).

    Passing both an instance and settings is ambiguous (which `dim` wins?), so it is an error. The
    instance's type is checked by the adapters' pydantic fields.
    Core instances share weights through the core's cache, so a new one costs no second load.
    """
    if given is None:
        return make_model(settings_class.from_mapping(settings))
    clashing = sorted(set(explicit) & set(settings))
    if clashing:
        raise InvalidArgumentError(
            f"pass either {argument}= or model settings, not both: {', '.join(clashing)} would be ignored; "
            f"set them on the {type(given).__name__} instead"
        )
    return given


def check_threshold(value: object, name: str = "score_threshold") -> float | None:
    """A probability cut-off in [0, 1], or None for no cut-off."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidArgumentError(f"{name}={value!r} must be a number in [0, 1] (the reranker's probability) or None")
    return float(value)


@dataclass(frozen=True)
class Cut:
    """Which of the ranked texts an adapter keeps: the best `top_n` (None: all), each with a probability of at
    least `score_threshold` (None: any). Checked when made; `top_name` is the framework's name for `top_n`,
    so that an error names the user's argument."""

    top_n: int | None
    score_threshold: float | None
    top_name: str = "top_n"

    def __post_init__(self) -> None:
        if self.top_n is not None:
            check_positive_int(self.top_n, self.top_name)
        object.__setattr__(self, "score_threshold", check_threshold(self.score_threshold))

    def best(self, reranker: RankingMethods, query: str, texts: Sequence[str]) -> list[Ranked]:
        """The kept texts for `query`, best first."""
        return self._kept(reranker.rerank(query, texts, top_k=self.top_n))

    async def abest(self, reranker: RankingMethods, query: str, texts: Sequence[str]) -> list[Ranked]:
        """`best` on the event loop: a remote reranker awaits its server, a local one runs in a worker thread."""
        return self._kept(await reranker.arerank(query, texts, top_k=self.top_n))

    def _kept(self, ranked: list[Ranked]) -> list[Ranked]:
        threshold = self.score_threshold
        return ranked if threshold is None else [r for r in ranked if r.score >= threshold]
