"""The command line's model options, made from the settings' fields (settings.py).

A command names the fields it offers (`SettingOption`); each option's flag is the field's name in kebab
case, after the model's prefix where both models take it (`--embedding-revision`), its default and type are
the field's, and its help is the field's description as argparse words help (`shown`), followed by what the
command line adds, if anything (where its default comes from, how it works with other options). The
description is written once, for Python users and the command line alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..settings import ModelSettings


@dataclass(frozen=True)
class SettingOption:
    """The option of the settings field `field`."""

    field: str
    prefix: str = ""  # "embedding-" or "reranker-": a setting each model of a command takes on its own
    word: str | None = None  # the flag's word where it is not the field's name (base_url: "url")
    note: str = ""  # what the command line adds to the field's description
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return f"--{self.prefix}{(self.word or self.field).replace('_', '-')}"

    def help(self, settings: type[ModelSettings]) -> str:
        """The field's description as help, then the command line's note."""
        described = shown(description(settings, self.field))
        return f"{described}; {self.note}" if self.note else described


def description(settings: type[ModelSettings], name: str) -> str:
    """The description of the settings field `name`."""
    text: str = settings.__dataclass_fields__[name].metadata["help"]
    return text


def shown(text: str) -> str:
    """A settings description worded as argparse words help: its first letter in lower case, no final period."""
    return text[:1].lower() + text[1:].removesuffix(".")


def add_setting_options(
    parser: argparse.ArgumentParser, settings: type[ModelSettings], options: Iterable[SettingOption]
) -> None:
    """Add to `parser` the option of each of `options`, as the fields of `settings` define them."""
    fields = {field.name: field for field in dataclasses.fields(settings)}
    types_of = typing.get_type_hints(settings)
    for option in options:
        field = fields[option.field]
        if field.metadata["secret"]:  # a command line shows in `ps` and in shell histories
            raise ValueError(f"{option.field} is a secret, never a command-line option")
        value_type = _value_type(types_of[option.field], option.field)
        kind: dict[str, Any] = {"type": value_type} if value_type is not str else {}
        if value_type is bool:
            if field.default is not False:
                raise ValueError(f"{option.field} defaults to {field.default!r}; only a False default is a flag")
            kind = {"action": "store_true"}
        elif option.metavar is not None:
            kind["metavar"] = option.metavar
        help_text = option.help(settings).replace("%", "%%")  # argparse formats help with %
        parser.add_argument(option.flag, default=field.default, help=help_text, **kind)


def _value_type(annotation: Any, name: str) -> type:
    """The one type a field's value has besides None: what argparse converts the option's text to."""
    if isinstance(annotation, types.UnionType):
        kinds = [kind for kind in typing.get_args(annotation) if kind is not type(None)]
        annotation = kinds[0] if len(kinds) == 1 else None
    if annotation not in (str, int, float, bool):
        raise TypeError(f"{name} has no command-line form: its values are not of one of str, int, float, bool")
    return typing.cast(type, annotation)
