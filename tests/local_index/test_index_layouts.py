"""One `VectorLayout` per index precision (issue 37): each stores real vectors and reads them back, and no
code outside layouts.py branches on a precision's name."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest
from conftest import VARIED_TEXTS
from source_tree import ROOT

from qwen3_rag import InvalidArgumentError
from qwen3_rag.local_index import IndexStore
from qwen3_rag.local_index.builder import index_settings
from qwen3_rag.local_index.chunking import Chunk
from qwen3_rag.local_index.layouts import FLOAT32, LAYOUTS, find_layout, layout_named, layout_of
from qwen3_rag.local_index.precision import INDEX_PRECISIONS
from qwen3_rag.local_index.store import FileRecord, FileUpdate

CORE = ROOT / "core"
PRECISION_NAMES = set(INDEX_PRECISIONS)

# ----- no precision branches outside the layouts -----


def _mentions_precision(node: ast.AST) -> bool:
    """Whether `node` reads a name or attribute called like a precision (`precision`, `self.precision`, ...)."""
    for part in ast.walk(node):
        name = part.id if isinstance(part, ast.Name) else part.attr if isinstance(part, ast.Attribute) else ""
        if "precision" in name.lower():
            return True
    return False


def _names_a_precision(node: ast.AST, groups: frozenset[str] = frozenset()) -> bool:
    """A precision's name as a literal, a tuple, list or set of literals holding one, or one of `groups`."""
    if isinstance(node, ast.Constant):
        return node.value in PRECISION_NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_names_a_precision(item) for item in node.elts)
    return isinstance(node, ast.Name) and node.id in groups


def _dispatch_keys(node: ast.AST) -> bool:
    """A dict literal keyed by precision names (`{"binary": ..., "int8": ...}`)."""
    return isinstance(node, ast.Dict) and any(key is not None and _names_a_precision(key) for key in node.keys)


def precision_groups(source: str) -> set[str]:
    """Module constants that single out some precisions (`QUANTIZED = ("int8", "binary")`): testing a precision
    against one is a branch. All of them (`INDEX_PRECISIONS`) is a check that a precision exists."""
    groups = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple | ast.List | ast.Set):
            values = {item.value for item in node.value.elts if isinstance(item, ast.Constant)}
            if values & PRECISION_NAMES and not values >= PRECISION_NAMES:
                groups |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return groups


def precision_branches(source: str, groups: frozenset[str] = frozenset()) -> list[int]:
    """The lines of `source` that branch on a precision's name: a comparison or `in` test of a precision
    literal (or of one of `groups`, see `precision_groups`) against something named like a precision, a
    `match` on one with such a case, or a lookup by one in a dict keyed by precision names."""
    groups = groups | precision_groups(source)
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_names_a_precision(o, groups) for o in operands) and any(map(_mentions_precision, operands)):
                lines.append(node.lineno)
        elif isinstance(node, ast.Match) and _mentions_precision(node.subject):
            patterns = [p for case in node.cases for p in ast.walk(case.pattern)]
            if any(isinstance(p, ast.MatchValue) and _names_a_precision(p.value) for p in patterns):
                lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and _dispatch_keys(node.value) and _mentions_precision(node.slice):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _dispatch_keys(node.func.value):
            if any(map(_mentions_precision, node.args)):
                lines.append(node.lineno)
    return lines


BRANCHES = {
    "equal": 'if precision == "binary":\n    pass',
    "not equal, reversed": 'ok = "float32" != self.precision',
    "in a tuple": 'quantized = store.precision in ("int8", "binary")',
    "not in a list": 'ok = recorded_precision(settings) not in ["int8"]',
    "match": 'match args.precision:\n    case "int8":\n        pass\n    case _:\n        pass',
    "dict lookup": 'columns = {"binary": 1, "int8": 2}.get(precision, 0)',
    "dict subscript": 'columns = {"binary": 1, "int8": 2}[self.precision]',
    "in a group": 'QUANTIZED = ("int8", "binary")\nok = self.precision in QUANTIZED',
}
NOT_BRANCHES = {
    "a compute dtype": 'if dtype == "int8" or name in ("float32", "binary"):\n    pass',
    "a default": 'def f(precision: str = "float32") -> None:\n    pass',
    "a record": 'settings = {"precision": precision}',
    "an attribute": "if layout.precision == other.precision:\n    pass",
    "a known precision": 'ALL = ("float32", "float16", "int8", "binary")\nok = precision in ALL',
}


@pytest.mark.parametrize("source", BRANCHES.values(), ids=BRANCHES.keys())
def test_the_check_finds_each_way_of_branching_on_a_precision(source):
    assert len(precision_branches(source)) == 1


@pytest.mark.parametrize("source", NOT_BRANCHES.values(), ids=NOT_BRANCHES.keys())
def test_the_check_leaves_other_strings_and_precisions_alone(source):
    assert precision_branches(source) == []


def test_no_code_outside_the_layouts_branches_on_a_precision():
    """What differs between precisions lives in layouts.py: a new precision is a new layout, not a branch in
    every module that stores or searches vectors."""
    files = sorted([*(CORE / "local_index").glob("*.py"), *(CORE / "cli").glob("*.py")])
    assert len(files) > 20  # the folders are where this test thinks they are
    sources = {path: path.read_text() for path in files}
    groups = frozenset(name for source in sources.values() for name in precision_groups(source))
    found = {
        f"{path.relative_to(CORE)}:{line}": source.splitlines()[line - 1].strip()
        for path, source in sources.items()
        if path.name != "layouts.py"
        for line in precision_branches(source, groups)
    }
    assert found == {}


# ----- the layouts -----


def test_there_is_one_layout_per_precision_in_the_command_lines_order():
    assert tuple(LAYOUTS) == INDEX_PRECISIONS
    assert [layout.precision for layout in LAYOUTS.values()] == list(INDEX_PRECISIONS)
    assert layout_of({}) is FLOAT32  # a float32 index records no precision
    assert all(layout_of({"precision": name}) is LAYOUTS[name] for name in INDEX_PRECISIONS)
    assert find_layout(["binary"]) is None and find_layout("fp16") is None  # read from a file: anything
    with pytest.raises(
        InvalidArgumentError, match=r"precision='fp16': an index stores float32, float16, int8 or binary"
    ):
        layout_named("fp16")


@pytest.mark.parametrize("precision", INDEX_PRECISIONS)
def test_each_layout_stores_real_vectors_and_reads_them_back(embedder, precision):
    layout = LAYOUTS[precision]
    floats = embedder.embed_documents(VARIED_TEXTS)
    dim = floats.shape[1]
    stored = layout.encode(floats)
    assert stored.schema.equals(pa.schema(layout.fields(dim))) and stored.num_rows == len(floats)
    back = layout.stored_vectors(stored, dim)
    assert back.dtype == np.float32 and back.shape == floats.shape
    norms = np.linalg.norm(back, axis=1)
    assert np.abs(norms - 1).max() <= layout.norm_tolerance  # as a search checks every vector it reads
    if precision in ("float32", "float16"):  # float16: each value rounded to the nearest float16, no more
        np.testing.assert_array_equal(back, floats.astype(np.dtype(precision)).astype(np.float32))
        return
    step = stored.column("step").to_numpy()
    np.testing.assert_allclose(step, np.abs(floats).max(axis=1) / 127, rtol=1e-6)
    assert (np.abs(back - floats) <= step[:, None] / 2 + 1e-7).all()  # each value off by half a step at most
    if precision == "binary":
        bits = np.asarray(stored.column("vector").combine_chunks().flatten()).reshape(len(floats), -1)
        np.testing.assert_array_equal(bits, np.packbits(floats > 0, axis=1))


@pytest.mark.parametrize("precision", INDEX_PRECISIONS)
def test_an_index_keeps_what_its_layout_encodes(tmp_path, embedder, precision):
    """Written through LanceDB and read back, the vectors are the layout's own decoding of what it encoded."""
    layout = LAYOUTS[precision]
    floats = embedder.embed_documents(VARIED_TEXTS[:4])
    texts = [f"text {i}" for i in range(len(floats))]
    chunks = [Chunk(text, i + 1, i + 1) for i, text in enumerate(texts)]
    with IndexStore.create_or_open(tmp_path / "idx", index_settings(embedder, 32, 8, "text", precision)) as store:
        assert store.layout is layout and store.vector_schema.equals(pa.schema(layout.fields(floats.shape[1])))
        store.write([FileUpdate(FileRecord("a.txt", "0" * 64, 1, 1), chunks, store.encode(floats))])
        kept = store.vectors_by_chunk()
    expected = layout.stored_vectors(layout.encode(floats), floats.shape[1])
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(kept[("a.txt", i + 1, i + 1, text)], expected[i])


def test_only_binary_and_float16_layouts_take_rescore_and_the_refusal_is_written_once():
    for name in ("binary", "float16"):
        LAYOUTS[name].refuse_rescore(4, "--rescore")
    assert [LAYOUTS[name].default_rescore for name in ("binary", "float16")] == [50, 200]
    for name in ("float32", "int8"):
        LAYOUTS[name].refuse_rescore(None, "rescore")
        with pytest.raises(InvalidArgumentError) as refused:
            LAYOUTS[name].refuse_rescore(4, "--rescore")
        assert str(refused.value) == f"--rescore applies to a binary or float16 index; this one stores {name} vectors"


def test_each_layout_names_how_search_recalled():
    assert [layout.summary(None, exact=True) for layout in LAYOUTS.values()] == [
        "",
        " over float16 vectors",
        " over int8 vectors",
        " over binary vectors, rescored x50",
    ]
    assert LAYOUTS["binary"].summary(4, exact=False) == " over binary vectors, rescored x4"
    rabitq = {"compression": {"type": "rq", "num_bits": 1, "rotation_type": "fast"}}
    assert LAYOUTS["float16"].summary(None, exact=False, index_details=rabitq) == (
        " over float16 vectors (RaBitQ 1 bit, 10% of partitions, rescored x200)"
    )
    rabitq["compression"]["num_bits"] = 4  # an index built before the switch to 1 bit names its own bits
    assert LAYOUTS["float16"].summary(30, exact=False, index_details=rabitq) == (
        " over float16 vectors (RaBitQ 4 bits, 10% of partitions, rescored x30)"
    )


def test_the_layouts_import_no_pyarrow():
    """The search command imports them beside torch; pyarrow is for the helper process that opens LanceDB."""
    probe = textwrap.dedent(
        """
        import sys
        import qwen3_rag.local_index.layouts
        print('pyarrow' in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "False", result.stderr
