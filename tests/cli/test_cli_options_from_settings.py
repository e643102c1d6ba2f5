"""The command line's model options are the settings' fields (issue 37, item 4): each has the field's name
(mapped to a flag), default and description, and no module outside `cli/` words messages in CLI flags."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
import typing

import pytest
from source_tree import ROOT

from qwen3_rag.cli.parser import EMBEDDING_MODEL_VARIABLE, command_parsers, named_embedding, parse
from qwen3_rag.cli.settings_options import SettingOption, add_setting_options
from qwen3_rag.settings import EmbedderSettings, ModelSettings, RerankerSettings

# Each model option and the field it is made from; the setting of both models is ModelSettings'.
FROM_SETTINGS: dict[str, tuple[type[ModelSettings], str]] = {
    "--device": (ModelSettings, "device"),
    "--dtype": (ModelSettings, "dtype"),
    "--instruction": (ModelSettings, "instruction"),
    "--batch-tokens": (ModelSettings, "batch_tokens"),
    "--allow-pickle": (ModelSettings, "allow_pickle"),
    "--embedding-model": (EmbedderSettings, "model"),
    "--embedding-revision": (EmbedderSettings, "revision"),
    "--embedding-url": (EmbedderSettings, "base_url"),
    "--dim": (EmbedderSettings, "dim"),
    "--reranker-model": (RerankerSettings, "model"),
    "--reranker-revision": (RerankerSettings, "revision"),
    "--reranker-url": (RerankerSettings, "base_url"),
}
SETTING_NAMES = {field.name for kind in (EmbedderSettings, RerankerSettings) for field in dataclasses.fields(kind)}


def options(command: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {action.option_strings[-1]: action for action in command._actions if action.option_strings}


def test_each_commands_model_options_are_the_settings_fields():
    commands = command_parsers()[1]
    for name, command in commands.items():
        for flag, action in options(command).items():
            if flag not in FROM_SETTINGS:
                continue
            settings, field_name = FROM_SETTINGS[flag]
            field = settings.__dataclass_fields__[field_name]
            described = field.metadata["help"]
            worded = described[0].lower() + described[1:].removesuffix(".")  # as argparse words help
            shown = action.help.replace("%%", "%") if action.help else ""
            assert shown == worded or shown.startswith(f"{worded}; "), (name, flag, shown)
            assert action.default == field.default, (name, flag)
            value_type = typing.get_type_hints(settings)[field_name]
            if value_type is bool:
                assert isinstance(action, argparse._StoreTrueAction), (name, flag)
            else:
                assert action.type is (int if int in typing.get_args(value_type) else None), (name, flag)


def test_every_option_named_like_a_setting_is_made_from_it():
    """A model option written by hand (a new --max-length, say) would have its own default and help."""
    commands = command_parsers()[1]
    for name, command in commands.items():
        for flag, action in options(command).items():
            setting = re.sub(r"^(embedding|reranker)_", "", action.dest)
            setting = {"url": "base_url"}.get(setting, setting)
            if setting in SETTING_NAMES:
                assert flag in FROM_SETTINGS, (name, flag)
    offered = {flag for command in commands.values() for flag in options(command)}
    assert set(FROM_SETTINGS) <= offered


def test_the_settings_descriptions_have_no_python_only_words():
    """One description serves Python and the shell: no None, no keyword=, no quoted Python strings."""
    for flag, (settings, name) in FROM_SETTINGS.items():
        described = settings.__dataclass_fields__[name].metadata["help"]
        assert not re.search(r"\bNone\b|\w=|'\S+'|qwen3_rag\.", described), (flag, described)


def test_a_secret_setting_is_never_an_option():
    with pytest.raises(ValueError, match="api_key is a secret"):
        add_setting_options(argparse.ArgumentParser(), EmbedderSettings, [SettingOption("api_key")])


def test_the_embedding_model_variable_is_read_when_used_not_as_the_default(monkeypatch):
    monkeypatch.setenv(EMBEDDING_MODEL_VARIABLE, "/models/embedding")
    args = parse(["embed"])
    assert args.embedding_model is None and named_embedding(args) == "/models/embedding"
    assert named_embedding(parse(["embed", "--embedding-model", "/other"])) == "/other"


# ----- no CLI words below cli/ -----

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*|qwen3-rag (?:index|search|embed|rerank|eval|models)\b")
CORE = ROOT / "core"
# Flags in messages outside cli/, each with why it stays. Other programs' command lines are theirs:
OTHER_PROGRAMS = {
    ("remote/served_backend.py", "--runner"): "how vLLM documents `vllm serve` for the reranker",
    ("remote/served_backend.py", "--hf-overrides"): "how vLLM documents `vllm serve` for the reranker",
}


def flags_in_messages(path) -> set[str]:
    """The flags and `qwen3-rag` commands in the string literals of `path`, docstrings left out (they document
    the command line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    documented = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        flag
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in documented
        for flag in FLAG.findall(node.value)
    }


def test_no_module_outside_cli_words_its_messages_in_cli_flags():
    found = {
        (path.relative_to(CORE).as_posix(), flag)
        for path in CORE.rglob("*.py")
        if path.relative_to(CORE).parts[0] != "cli"
        for flag in flags_in_messages(path)
    }
    assert found - set(OTHER_PROGRAMS) == set()  # the core words its advice for Python; cli/hints.py for the shell
