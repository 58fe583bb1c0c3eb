"""Results written before the restructuring (``old_store/``: tiny runs of every protocol, written by
the code of commit 2088226 from the recipes next to them) load, report and resume with today's code.

Those run folders record only the non-default parameters in ``config.json``; today's runs record
all of them. Their keys (study, hash, seed) are unchanged, so a sweep skips them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sparsernn.results import finished_runs, load, load_metrics, read_config
from sparsernn.studies import load_recipe, run_sweep
from sparsernn.studies.registry import default_params, with_default_params
from sparsernn.studies.report import _varying, write_report

FIXTURE = Path(__file__).parent / "old_store"
STUDIES = ["fx-iterative", "fx-pruning", "fx-structure", "fx-train"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def old_root(tmp_path):
    root = tmp_path / "results"
    shutil.copytree(FIXTURE / "results", root)
    return root


def _configs():
    return [c for recipe in sorted((FIXTURE / "recipes").glob("*.yaml")) for c in load_recipe(recipe)[1]]


def _files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_old_run_folders_keep_their_keys(old_root):
    assert sorted(c.key for c in _configs()) == list(finished_runs(old_root))


def test_old_runs_load_and_get_their_default_parameters_filled_in(old_root):
    runs = load(old_root)
    assert len(runs) == 7 and set(runs["status"]) == {"ok"} and sorted(set(runs["study"])) == STUDIES
    assert "params.criterion" not in runs  # written before the field existed
    filled = with_default_params(runs)
    pruning = filled[filled["study"] == "fx-pruning"].iloc[0]
    assert pruning["params.tolerance"] == 0.02  # the run's own value stays
    assert (pruning["params.criterion"], pruning["params.scope"]) == ("magnitude", "global")
    structure = filled[filled["study"] == "fx-structure"].iloc[0]
    assert (structure["params.family"], structure["params.gate_masks"]) == ("barabasi_albert", "blocked")
    assert set(load_metrics(old_root)["run"]) == set(runs["run"])


def test_old_runs_report(old_root, tmp_path):
    text = write_report(old_root, tmp_path / "report").read_text()
    for study in STUDIES:
        assert f"## Study `{study}`" in text
    assert "first retraining epoch within 2 points of the base model" in text  # the run's tolerance
    assert "Accuracy of cell=gru by q" in text  # the iterative report names configs by their values
    assert "2 trained models, 1 graph families" in text  # the structure report


def test_old_runs_resume_a_sweep_skips_them_and_redoes_only_what_is_missing(old_root):
    before = _files(old_root)
    outcome = run_sweep(_configs(), old_root, progress=False)
    assert (outcome.total, outcome.skipped, outcome.ok, outcome.failed) == (7, 7, 0, 0)
    assert _files(old_root) == before
    redo = next(c for c in _configs() if c.study == "fx-train" and c.params.get("sparsity") == 0.5)
    (redo.key.folder(old_root) / "summary.json").unlink()  # an interrupted run
    outcome = run_sweep(_configs(), old_root, progress=False)
    assert (outcome.skipped, outcome.ok, outcome.failed) == (6, 1, 0)
    new = read_config(redo.key.folder(old_root))
    assert new["params"] == {**default_params("train"), "sparsity": 0.5, "save_model": False}
    assert new["hash"] == redo.key.hash
    old = read_config(next(p for k, p in finished_runs(old_root).items() if k.study == "fx-pruning"))
    assert "scope" not in old["params"]  # the old folders are left as they were
    # Old and new runs of one study side by side: only the swept values vary.
    runs = with_default_params(load(old_root))
    assert _varying(runs[runs["study"] == "fx-train"]) == ["model.cell", "params.sparsity"]
    assert json.loads((redo.key.folder(old_root) / "summary.json").read_text())["status"] == "ok"
