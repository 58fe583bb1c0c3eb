"""Shared by the crash and Ray tests: the smoke recipe, a snapshot of a results folder, and the
smoke sweep run once, uninterrupted, as the reference every backend and every crash must match."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from safetensors import safe_open

from sparsernn.results import complete_runs
from sparsernn.studies import load_recipe, run_sweep
from sparsernn.studies.pool import one_thread

SMOKE = Path(__file__).resolve().parents[2] / "recipes" / "smoke.yaml"


def checkpoint_content(path: Path) -> tuple[dict, dict] | None:
    """Metadata and tensors of a checkpoint (its bytes are not reproducible: safetensors writes the
    metadata from a hash map, in an order that changes from process to process)."""
    if not path.exists():
        return None
    with safe_open(path, framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
        metadata = handle.metadata()
    return metadata, {k: (str(t.dtype), tuple(t.shape), t.numpy().tobytes()) for k, t in tensors.items()}


def take_snapshot(root: Path) -> dict[str, dict]:
    """Everything a complete run wrote, by run, minus wall times: summary, metric rows, checkpoint."""
    runs = {}
    for folder in complete_runs(root):
        summary = json.loads((folder / "summary.json").read_text())
        summary.pop("wall_s")
        config = json.loads((folder / "config.json").read_text())
        assert config["hash"] == folder.parent.name and f"seed_{config['seed']}" == folder.name
        runs[f"{folder.parent.name}/{folder.name}"] = {
            "summary": summary,
            "rows": (folder / "metrics.jsonl").read_text(),
            "model": checkpoint_content(folder / "model.safetensors"),
        }
    return runs


@pytest.fixture(scope="session")
def snapshot() -> Callable[[Path], dict[str, dict]]:
    return take_snapshot


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> dict[str, dict]:
    """The smoke recipe run uninterrupted in this process, one intra-op thread (as every backend's workers)."""
    root = tmp_path_factory.mktemp("reference")
    _, configs = load_recipe(SMOKE)
    with one_thread():
        outcome = run_sweep(configs, root, progress=False)
    assert (outcome.total, outcome.ok) == (len(configs), len(configs)) and len(configs) >= 4
    return take_snapshot(root)


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for tests that train many tiny models (more threads only contend here)."""
    with one_thread():
        yield
