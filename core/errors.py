"""The package's exceptions: one base class, and subclasses of the built-ins users already catch."""

from __future__ import annotations


class Qwen3RagError(Exception):
    """Base class of every error raised on purpose by qwen3-rag."""


class InvalidArgumentError(Qwen3RagError, ValueError):
    """An argument has a value outside what is allowed; the message names both."""


class UnknownArgumentError(InvalidArgumentError, TypeError):
    """A keyword argument or setting name that is not taken; the message lists the ones that are.

    A TypeError, as Python raises for an unexpected keyword (and as tools that catch it expect), and still an
    InvalidArgumentError (so a ValueError) for code that caught it as one before.
    """


class InvalidInputError(Qwen3RagError, TypeError):
    """Input texts are not a list of strings."""


class ModelLoadError(Qwen3RagError, OSError):
    """A model or tokenizer could not be loaded, or is not a Qwen3 model."""


class NonFiniteOutputError(Qwen3RagError, FloatingPointError):
    """The model produced NaN or infinite values (typically float16 overflow); no result is returned."""


class LocalIndexError(Qwen3RagError):
    """An on-disk index is missing, locked by another writer, or was built with other settings."""


class RemoteServerError(Qwen3RagError, ConnectionError):
    """A model server could not be reached, refused a request, or answered something unusable.

    `status` is the HTTP status when the server answered with one, else None.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status
