"""The one settings object per model: every constructor, adapter and Ray's driver read and check it."""

from __future__ import annotations

import copy
import pickle
import typing

import pytest

from qwen3_rag import Embedder, InvalidArgumentError, Reranker
from qwen3_rag.settings import (
    EmbedderOptions,
    EmbedderSettings,
    RemoteEmbedderOptions,
    RemoteRerankerOptions,
    RerankerOptions,
    RerankerSettings,
)

OPTIONS = [
    (EmbedderOptions, EmbedderSettings, "here", {"model"}),
    (RerankerOptions, RerankerSettings, "here", {"model"}),
    (RemoteEmbedderOptions, EmbedderSettings, "served", {"model", "base_url"}),
    (RemoteRerankerOptions, RerankerSettings, "served", {"model", "base_url"}),
]


@pytest.mark.parametrize(("options", "settings", "runs", "positional"), OPTIONS)
def test_each_constructors_keywords_are_the_settings_that_apply_where_it_runs(options, settings, runs, positional):
    """The TypedDicts that type the constructors' keywords name exactly the settings fields that apply
    there, with the same types: a setting added to one and not the other fails here."""
    applying = {name for name, where in settings.placement().items() if where in ("any", runs)} - positional
    assert set(options.__annotations__) == applying
    option_types = typing.get_type_hints(options)
    field_types = typing.get_type_hints(settings)
    assert {name: option_types[name] for name in applying} == {name: field_types[name] for name in applying}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dim": 20}, "dim=20 is outside 32..1024"),
        ({"dim": True}, "dim must be an integer"),
        ({"max_length": 1}, "max_length=1 must be an integer >= 2"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"device": "gpu"}, "device='gpu' is not a device"),
        ({"dtype": "float8"}, "dtype='float8' is not supported"),
        ({"instruction": "web_serch"}, "Did you mean 'web_search'"),
        ({"progress_bar": "yes"}, "progress_bar"),
        ({"timeout": 5}, "timeout= appl"),
        ({"tokenizer": "Qwen/Qwen3-Embedding-0.6B"}, "tokenizer= appl"),
        ({"base_url": "http://localhost:8000", "device": "cpu"}, "device= set"),
        ({"base_url": "ftp://x"}, "must be an http:// or https://"),
        ({"base_url": "http://localhost:8000", "timeout": 0}, "timeout=0"),
        ({"base_url": "http://localhost:8000", "concurrency": 0}, "concurrency=0"),
        ({"dimm": 64}, r"EmbedderSettings got unknown setting\(s\) dimm; it takes .*\bdim\b"),
    ],
)
def test_a_bad_setting_fails_alike_in_the_settings_and_before_any_load(values, message):
    """One check: the settings object, the constructor (before any weights: the default checkpoint is not
    here, and no network is asked) and Ray's driver raise the same error."""
    with pytest.raises(InvalidArgumentError, match=message):
        EmbedderSettings.from_mapping({"model": "Qwen/Qwen3-Embedding-0.6B", **values})
    if set(values) <= set(EmbedderOptions.__annotations__):  # the others are not the local class's to take
        with pytest.raises(InvalidArgumentError, match=message):
            Embedder("Qwen/Qwen3-Embedding-0.6B", **values)


def test_a_constructor_names_what_it_takes():
    with pytest.raises(InvalidArgumentError, match=r"Reranker got unknown argument\(s\) dim; it takes .*batch_size"):
        Reranker("Qwen/Qwen3-Reranker-0.6B", dim=64)
    with pytest.raises(InvalidArgumentError, match=r"Embedder got unknown argument\(s\) base_url"):
        Embedder("Qwen/Qwen3-Embedding-0.6B", base_url="http://localhost:8000")


def test_the_objects_keep_their_settings_and_copies_are_built_from_them(tiny_models):
    embedder = Embedder(tiny_models.embedding, device="cpu", dim=32, instruction="code_search", token="hf_x")
    assert embedder.settings == EmbedderSettings(
        model=tiny_models.embedding, device="cpu", dim=32, instruction="code_search", token="hf_x"
    )
    for rebuilt in (copy.deepcopy(embedder), pickle.loads(pickle.dumps(embedder))):
        assert rebuilt.settings == embedder.settings and rebuilt.model is embedder.model
    assert Embedder.from_settings(embedder.settings).model is embedder.model
    assert "hf_x" not in repr(embedder.settings)  # secrets stay out of every repr
    with pytest.raises(InvalidArgumentError, match="Reranker is made from RerankerSettings"):
        Reranker.from_settings(embedder.settings)


def test_the_pydantic_fields_are_the_settings_fields():
    from qwen3_rag.integrations._fields import EmbedderFields, RerankerFields

    for fields, settings in ((EmbedderFields, EmbedderSettings), (RerankerFields, RerankerSettings)):
        for name in settings.placement():
            field = fields.model_fields[name]
            assert field.description == settings.__dataclass_fields__[name].metadata["help"]
            assert field.default == settings.__dataclass_fields__[name].default


def test_haystack_serialisation_round_trips_the_settings(tiny_models):
    from qwen3_rag.integrations.haystack import Qwen3DocumentEmbedder, Qwen3Ranker

    embedder = Qwen3DocumentEmbedder(model=tiny_models.embedding, dim=48, max_length=256, token=None)
    again = Qwen3DocumentEmbedder.from_dict(embedder.to_dict())
    assert again.core.settings == embedder.core.settings
    assert embedder.core.settings.dim == 48 and embedder.core.settings.max_length == 256
    ranker = Qwen3Ranker(model=tiny_models.reranker, instruction="question_answering", token=None)
    assert Qwen3Ranker.from_dict(ranker.to_dict()).core.settings == ranker.core.settings


def test_the_haystack_components_take_every_setting_by_name():
    from qwen3_rag.integrations.haystack._component import EmbedderComponentOptions, RankerComponentOptions

    assert set(EmbedderComponentOptions.__annotations__) == set(EmbedderSettings.placement()) - {"model"}
    assert set(RankerComponentOptions.__annotations__) == set(RerankerSettings.placement()) - {"model"}


def test_a_haystack_component_checks_its_settings_at_init():
    from qwen3_rag.integrations.haystack import Qwen3Ranker, Qwen3TextEmbedder

    with pytest.raises(InvalidArgumentError, match="dim=20 is outside 32..1024"):
        Qwen3TextEmbedder(model="Qwen/Qwen3-Embedding-0.6B", dim=20)
    with pytest.raises(InvalidArgumentError, match=r"Qwen3Ranker got unknown argument\(s\) dim; it takes"):
        Qwen3Ranker(dim=64)


def test_every_dtype_name_runs_as_a_torch_dtype_or_the_int8_mode():
    import torch

    from qwen3_rag.kernels import runtime
    from qwen3_rag.settings import DTYPE_NAMES, QUANTIZED_DTYPE_NAMES, TORCH_DTYPE_NAMES

    cpu = torch.device("cpu")
    assert set(DTYPE_NAMES) == set(TORCH_DTYPE_NAMES) | set(QUANTIZED_DTYPE_NAMES)
    for name in DTYPE_NAMES:
        assert EmbedderSettings(dtype=name).dtype == name
        if name in QUANTIZED_DTYPE_NAMES:
            assert runtime.quantized_mode(name, cpu) == "int8" and runtime.resolve_dtype(name, cpu) == torch.float32
        else:
            dtype = getattr(torch, TORCH_DTYPE_NAMES[name])
            assert runtime.quantized_mode(name, cpu) is None and runtime.resolve_dtype(name, cpu) == dtype
            assert EmbedderSettings(dtype=dtype).dtype == dtype  # the torch dtype itself is taken too
            assert runtime.resolve_dtype(dtype, cpu) == dtype
    assert EmbedderSettings(device=torch.device("cpu"), dtype=torch.bfloat16).dtype == torch.bfloat16
    with pytest.raises(InvalidArgumentError, match="dtype=torch.int8 is not supported"):
        EmbedderSettings(dtype=torch.int8)  # the int8 mode is asked for by name; the loader refuses the dtype


def test_the_served_classes_old_max_batch_still_works_with_a_warning():
    from qwen3_rag import RemoteEmbedder

    with pytest.warns(DeprecationWarning, match=r"max_batch=\.\.\.\) is now batch_size"):
        settings = EmbedderSettings.for_constructor(
            RemoteEmbedder, RemoteEmbedderOptions, {"max_batch": 8}, base_url="http://localhost:8000"
        )
    assert settings.batch_size == 8
    with pytest.raises(InvalidArgumentError, match=r"Embedder got unknown argument\(s\) max_batch"):
        Embedder("Qwen/Qwen3-Embedding-0.6B", max_batch=8)  # the local class never took it


def test_haystack_components_take_only_the_model_by_position():
    from qwen3_rag.integrations.haystack import Qwen3DocumentEmbedder, Qwen3Ranker, Qwen3TextEmbedder

    for component in (Qwen3TextEmbedder, Qwen3DocumentEmbedder, Qwen3Ranker):
        with pytest.raises(TypeError, match="positional"):
            component("Qwen/Qwen3-Embedding-0.6B", None)


def test_local_batch_limits_stay_readable(embedder):
    assert embedder.batch_tokens == embedder.backend.batch_tokens > 0 and embedder.batch_size is None
