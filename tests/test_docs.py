"""Docstring examples: those of the packages without a docs test of their own run here, and none
shows a float at full precision (the last bits differ between CPUs, BLAS builds and releases)."""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
import re
import types
from pathlib import Path

import pytest

import sparsernn

SRC = Path(sparsernn.__file__).parent
# Subpackages whose own test_docs.py / test_doctests.py runs their examples.
OWN_DOCS_TEST = ("sparsernn.analysis", "sparsernn.data", "sparsernn.graphs", "sparsernn.nn")
RUN_ELSEWHERE = {  # module: the test that runs its examples (with set-up of its own)
    "sparsernn.studies.ray_backend": "tests/studies/test_ray_backend.py",
    "sparsernn.studies.protocols.graph_families": "tests/studies/test_structure.py",
    "sparsernn.studies.reports.regression": "tests/studies/test_structure.py",
    "sparsernn.train.callbacks": "tests/train/test_loop.py",
    "sparsernn.train.loop": "tests/train/test_loop.py",
    "sparsernn.train.many": "tests/studies/test_structure.py",
    "sparsernn.train.wavefront": "tests/studies/test_structure.py",
    "sparsernn.train.wavefront_cells": "tests/studies/test_structure.py",
    "sparsernn.train.wavefront_plan": "tests/studies/test_structure.py",
}
MODULES = [sparsernn.__name__] + [
    info.name
    for info in pkgutil.walk_packages(sparsernn.__path__, prefix=f"{sparsernn.__name__}.")
    if not info.name.startswith(tuple(f"{package}." for package in OWN_DOCS_TEST))
    and info.name not in [*OWN_DOCS_TEST, *RUN_ELSEWHERE]
]

# The repository's pre-stop hook: a line that starts with a float of 12 or more decimals.
HOOK = re.compile(r"^[ \t]+[(\[]?-?[0-9]+\.[0-9]{12,}")
FLOAT = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+|\d+(?=[eE][-+]?\d))(?:[eE][-+]?\d+)?(?![\w.])")
MAX_DIGITS = 11  # significant digits an example may show (round(x, 4) or f"{x:.4f}" is the norm)


def significant_digits(number: str) -> int:
    """Digits of a float literal after its leading zeros: ``0.0012`` has 2, ``1.3333333333333333`` 17."""
    return len(re.split("[eE]", number)[0].replace(".", "").lstrip("0"))


def docstrings(tree: ast.Module) -> list[ast.Constant]:
    """The docstring nodes of a module, its classes and its functions."""
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    firsts = [node.body[0] for node in ast.walk(tree) if isinstance(node, owners) and node.body]
    return [
        first.value
        for first in firsts
        if isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ]


def full_precision_lines(text: str, path: str) -> list[str]:
    """``path:line: text`` for every example output line (and every line the hook matches) showing
    a float with more than MAX_DIGITS significant digits."""
    found = {number: line for number, line in enumerate(text.splitlines(), 1) if HOOK.match(line)}
    for doc in docstrings(ast.parse(text)):
        for example in doctest.DocTestParser().get_examples(doc.value):
            first = doc.lineno + example.lineno + example.source.count("\n")
            for offset, line in enumerate(example.want.splitlines()):
                if any(significant_digits(n) > MAX_DIGITS for n in FLOAT.findall(line)):
                    found[first + offset] = line
    return [f"{path}:{number}: {line.strip()}" for number, line in sorted(found.items())]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, run_examples, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path))  # examples never write into the real data home
    monkeypatch.chdir(tmp_path)
    result = run_examples(importlib.import_module(name))
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"


def test_no_example_shows_a_float_at_full_precision():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        offenders += full_precision_lines(
            path.read_text(encoding="utf-8"), str(path.relative_to(SRC.parents[1]))
        )
    assert offenders == [], "print rounded values in examples (round(x, 4)):\n" + "\n".join(offenders)


def test_the_scan_finds_full_precision_floats_anywhere_in_an_output_line():
    text = '''def f():
    """Examples
    --------
    >>> f()
    (1.3333333333333333, 4.0, 2.0)
    >>> g(
    ...     1)
    {'a': [0.5, 2.449489742783]}
    >>> round(h(), 4), 0.1 + 0.2 == 0.30000000000000004
    (0.1235, True)
    """


X = [
    0.1234567890123,
]
'''
    assert full_precision_lines(text, "m.py") == [
        "m.py:5: (1.3333333333333333, 4.0, 2.0)",
        "m.py:8: {'a': [0.5, 2.449489742783]}",
        "m.py:15: 0.1234567890123,",
    ]
    assert [significant_digits(n) for n in ("0.0012", "1.5e-07", "100.25", "12.0")] == [2, 2, 5, 3]


def _module_showing(shown: str, computed: str) -> types.ModuleType:
    module = types.ModuleType("shown_float")
    module.computed = computed
    module.__test__ = {"example": f">>> print(computed)\n{shown}\n"}
    return module


@pytest.mark.parametrize(
    ("shown", "computed", "passes"),
    [
        ("(1.3333333333333333, 4.0, 2.0)", "(1.333333333333333, 4.0, 2.0)", True),  # the AMD EPYC case
        ("(1.3333, 4.0)", "(1.3333, 3.9999999999999996)", True),
        ("[0.1234, 0.5]", "[0.1235, 0.5]", True),  # a flip in the last digit shown
        ("[0.1234, 0.5]", "[0.1236, 0.5]", False),
        ("(1.3333, 4.0)", "(1.3333, 4.0, 2.0)", False),
        ("(1.3333, 'a')", "(1.3333, 'b')", False),
        ("2.5e-07", "2.6e-07", True),
        ("2.5e-07", "2.7e-07", False),
    ],
)
def test_examples_tolerate_a_last_digit_flip_only(run_examples, shown, computed, passes):
    assert run_examples(_module_showing(shown, computed)).failed == (0 if passes else 1)


# The guide's pages state facts about the code; these keep them true.
GUIDE = SRC.parents[1] / "docs" / "guide"


def test_the_installation_page_lists_every_extra():
    import tomllib

    pyproject = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    rows = re.findall(r"^\| `([a-z]+)` \|", (GUIDE / "installation.md").read_text(encoding="utf-8"), re.M)
    assert sorted(rows) == sorted(pyproject["project"]["optional-dependencies"])


def test_the_own_loop_page_names_every_pruning_criterion():
    text = (GUIDE / "own-training-loop.md").read_text(encoding="utf-8")
    names = [*sparsernn.prune.CRITERIA, *sparsernn.prune.MASK_CRITERIA]
    assert [name for name in names if f"`{name}`" not in text] == []


def test_what_the_pages_say_about_state_dicts_and_full_sparsity_holds():
    import torch

    import sparsernn as sr

    sparse = sr.nn.SparseGRU(3, 4)
    plain = torch.nn.GRU(3, 4)
    with pytest.raises(RuntimeError, match="weight_ih_l0_mask"):  # extra mask buffers: not strict
        plain.load_state_dict(sparse.state_dict())
    plain.load_state_dict(sparse.state_dict(), strict=False)
    sparse.load_state_dict(plain.state_dict(), strict=False)
    plain.load_state_dict(sr.nn.to_torch(sparse).state_dict(), strict=True)
    masks = sr.prune.magnitude(sr.nn.SparseLSTM(3, 4, num_layers=2), 1.0, scope="layer")
    assert {name: int(mask.sum()) for name, mask in masks.items()} == dict.fromkeys(masks, 1)
