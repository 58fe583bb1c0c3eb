"""A failed run is never reported as done: the CLI line, the exit status, the report, the loaded table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from sparsernn.cli import main
from sparsernn.results import load
from sparsernn.studies.sweep import SweepOutcome, run_sweep

pytestmark = pytest.mark.timeout(120)


def _fake_cifar(root: Path, per_file: int = 4) -> None:
    """A tiny CIFAR-10 binary distribution: records of one label byte and 3,072 pixel bytes."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for name in [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]:
        labels = (np.arange(per_file) % 10).astype(np.uint8)[:, None]
        pixels = rng.integers(0, 256, size=(per_file, 3072), dtype=np.uint8)
        (root / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())


@pytest.fixture
def failing(tmp_path) -> tuple[Path, Path, Path]:
    """A recipe of two runs that fail at once (their CIFAR-10 files are truncated), and its folders.

    The files are there, so the check before the first run (missing data) passes and the runs fail.
    """
    data = tmp_path / "cifar"
    data.mkdir()
    for name in [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]:
        (data / name).write_bytes(b"trunc")
    recipe = {
        "study": "fails",
        "seeds": [0, 1],
        "data": {"name": "cifar10", "options": {"root": str(data)}, "batch_size": 4},
        "model": {"cell": "gru", "hidden_size": 4},
        "train": {"epochs": 1},
        "params": {"save_model": False},
    }
    path = tmp_path / "fails.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path, tmp_path / "results", data


def _run(*args: str):
    return CliRunner().invoke(main, ["run", *args, "--quiet"])


def test_failed_runs_fail_the_command_stay_failed_and_are_retried(failing):
    recipe, results, data = failing
    first = _run(str(recipe), "--results", str(results))
    assert first.exit_code == 1, first.output
    assert "2 runs: 0 already complete, 0 finished, 2 failed" in first.stdout
    assert first.stdout.count("  failed: ") == 2 and "DataError" in first.stdout
    assert "--retry-failed" in first.stderr and first.stderr.startswith("error: 2 of 2 runs failed")

    again = _run(str(recipe), "--results", str(results))  # not redone, still failed
    assert again.exit_code == 1, again.output
    line = "2 runs: 0 already complete, 0 finished, 2 failed (2 failed before; rerun with --retry-failed)"
    assert line in again.stdout
    assert again.stdout.count("(failed before)") == 2

    table = load(results)
    assert list(table["status"]) == ["failed", "failed"]
    assert all(reason.startswith("DataError") for reason in table["reason"])

    _fake_cifar(data)  # the cause is fixed: --retry-failed runs them again, now successfully
    retried = _run(str(recipe), "--results", str(results), "--retry-failed")
    assert retried.exit_code == 0, retried.output
    assert "2 runs: 0 already complete, 2 finished, 0 failed" in retried.stdout
    assert list(load(results)["status"]) == ["ok", "ok"]
    done = _run(str(recipe), "--results", str(results))
    assert done.exit_code == 0 and "2 runs: 2 already complete, 0 finished, 0 failed" in done.stdout


def test_report_counts_failed_runs_apart_and_lists_their_reasons(failing):
    recipe, results, _ = failing
    assert _run(str(recipe), "--results", str(results)).exit_code == 1
    out = CliRunner().invoke(main, ["report", str(results)])
    assert out.exit_code == 0, out.output
    summary = Path(out.stdout.strip().splitlines()[-1]).read_text()
    assert "0 complete runs, 2 failed runs" in summary
    assert "2 complete runs" not in summary
    assert summary.count("- failed run ") == 2 and "DataError" in summary
    assert "--retry-failed" in summary


def test_outcome_counts_every_run_once(failing, tmp_path):
    from sparsernn.studies import load_recipe

    recipe, results, _ = failing
    _, configs = load_recipe(recipe)
    first = run_sweep(configs, results, progress=False)
    again = run_sweep(configs, results, progress=False)
    assert (first.total, first.skipped, first.ok, first.failed, first.failed_before) == (2, 0, 0, 2, 0)
    assert (again.total, again.skipped, again.ok, again.failed, again.failed_before) == (2, 0, 0, 2, 2)
    assert isinstance(again, SweepOutcome) and len(again.failures) == 2
    for folder in results.glob("fails/*/seed_*"):
        assert json.loads((folder / "summary.json").read_text())["status"] == "failed"


def test_demo_exits_non_zero_and_reports_when_a_run_failed(failing, monkeypatch):
    recipe, results, _ = failing
    monkeypatch.setattr("sparsernn.studies.demo.DEMO_RECIPE", yaml.safe_load(recipe.read_text()))
    first = CliRunner().invoke(main, ["demo", "--results", str(results), "--workers", "1"])
    assert first.exit_code == 1, first.output
    assert "2 failed" in first.stdout and "error: 2 of 2 runs failed" in first.stderr
    assert (results / "report" / "summary.md").exists()  # the report is written, failures listed
    again = CliRunner().invoke(main, ["demo", "--results", str(results), "--retry-failed"])
    assert again.exit_code == 1 and "2 failed" in again.stdout and "failed before" not in again.stdout
