"""The built wheel works in a fresh virtual environment: ``pip install sparsernn`` as a user does it.

The wheel is built from a copy of the sources, installed with its dependencies (at the versions of
constraints.txt) into an empty venv: no ``--system-site-packages`` and nothing from the checkout on
``sys.path``, so a missing dependency or a file left out of the wheel shows up here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import pathlib, sys, torch
import sparsernn as sr
from sparsernn.nn import streaming_kernels

assert pathlib.Path(sr.__file__).is_relative_to(sys.prefix), sr.__file__
lstm = sr.nn.SparseLSTM(3, 8)
sr.prune.apply(lstm, sr.prune.magnitude(lstm, 0.5))
print("density", round(lstm.density(), 2))
print("delta_s", sr.analysis.expansion(lstm.masks["weight_hh_l0"]).delta_s > -10)
print("kernel", streaming_kernels.kernel(torch.float32) is not None)
stream = sr.nn.StreamingRNN.from_module(lstm.eval())
y, state = stream.step(torch.randn(3))
print("stream", tuple(y.shape))
"""


def run(*command: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, env=env)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    tree = tmp / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so")
    shutil.copytree(ROOT / "src", tree / "src", ignore=ignore)
    # The build venv's setuptools (pinned), no isolated build environment to download.
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", tree, cwd=tmp, env=env)
    (wheel,) = (tmp / "dist").glob("sparsernn-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["SPARSERNN_CACHE"] = str(tmp_path / "cache")  # compiled kernels go here, not to the user's cache
    wheel = build_wheel(tmp_path, env)
    files = set(zipfile.ZipFile(wheel).namelist())
    (metadata,) = (f for f in files if f.endswith(".dist-info/METADATA"))
    # The licence as an SPDX expression (PEP 639): setuptools deprecates the TOML table form
    # (`license = {text = ...}`) and stops building it from 2027-02-18.
    assert "License-Expression: MIT" in zipfile.ZipFile(wheel).read(metadata).decode()
    assert {"sparsernn/py.typed", "sparsernn/nn/streaming_kernel.c", "sparsernn/cli.py"} <= files
    recipes = {f"sparsernn/recipes/{path.name}" for path in (ROOT / "recipes").glob("*.yaml")}
    assert "sparsernn/recipes/smoke.yaml" in recipes and recipes <= files  # every recipe ships

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    # This venv's pip installs into the new one (--python): no pip bootstrap there. torch first, the CPU
    # wheel that pip's find-links provide where there is one (as `make test` does), else the index's.
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile")
    pins = ("-c", ROOT / "constraints.txt")
    try:
        run(*pip, *pins, "--no-index", "--no-deps", "torch", cwd=tmp_path, env=env)
    except AssertionError:
        run(*pip, *pins, "torch", cwd=tmp_path, env=env)
    run(*pip, *pins, wheel, cwd=tmp_path, env=env)

    out = run(python, "-c", CHECK, cwd=tmp_path, env=env)
    assert "density 0.5" in out and "delta_s True" in out and "stream (8,)" in out, out
    assert "kernel True" in out, out  # the C source shipped: streaming uses the compiled kernel
    assert "Usage: sparsernn" in run(venv / "bin" / "sparsernn", "--help", cwd=tmp_path, env=env)
    assert "RECIPE" in run(venv / "bin" / "sparsernn", "run", "--help", cwd=tmp_path, env=env)
    # A built-in recipe by name, from the installed package (the checkout is not on any path here).
    results = tmp_path / "results"
    dry = run(
        venv / "bin" / "sparsernn", "run", "smoke", "--dry-run", "--results", results, cwd=tmp_path, env=env
    )
    assert "dry run: 4 runs (0 complete, 0 failed, 4 pending)" in dry and not results.exists(), dry
    assert "smoke" in run(venv / "bin" / "sparsernn", "recipes", cwd=tmp_path, env=env)
