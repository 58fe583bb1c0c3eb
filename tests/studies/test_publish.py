"""``sparsernn report RESULTS --study S --publish DIR``: summary, small figures, compact CSV, atomic swap, 5 MB cap."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from sparsernn.cli import main
from sparsernn.errors import DataError
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies.publish import MAX_FIGURE_BYTES, compact_runs, publish, small_png

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.timeout(120)]

TINY = {
    "study": "tiny",
    "data": {"name": "mnist1d", "options": {"n_train": 20, "n_test": 10}, "batch_size": 10},
    "model": {"cell": "lstm", "hidden_size": 4},
    "train": {"epochs": 1},
    "params": {"save_model": False},
    "seeds": [0, 1],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    assert run_sweep(expand(parse_recipe(TINY)), root, progress=False).ok == 2
    return root


def test_publish_writes_summary_figures_and_a_compact_csv(store, tmp_path):
    dest = tmp_path / "docs" / "results" / "tiny"
    result = CliRunner().invoke(main, ["report", str(store), "--study", "tiny", "--publish", str(dest)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in dest.iterdir())
    assert "summary.md" in names and "runs.csv" in names and any(n.endswith(".png") for n in names)
    assert not any(n.endswith(".safetensors") for n in names)
    runs = pd.read_csv(dest / "runs.csv")
    assert len(runs) == 2 and "path" not in runs.columns and set(runs["seed"]) == {0, 1}
    assert all(len(f"{v:.10g}".replace("-", "").replace(".", "").lstrip("0")) <= 4 for v in runs["wall_s"])
    for png in dest.glob("*.png"):
        assert png.stat().st_size <= MAX_FIGURE_BYTES
        assert f"]({png.name})" in (dest / "summary.md").read_text()
    assert oct(dest.stat().st_mode & 0o777) == "0o755"


def test_a_new_publication_replaces_the_old_one_entirely(store, tmp_path):
    dest = tmp_path / "results" / "tiny"
    dest.mkdir(parents=True)
    (dest / "stale.png").write_bytes(b"old")
    CliRunner().invoke(main, ["report", str(store), "--study", "tiny", "--publish", str(dest)])
    assert not (dest / "stale.png").exists() and (dest / "summary.md").is_file()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["tiny"]  # no temporary folder left behind


def test_a_publication_above_5_mb_is_refused_and_changes_nothing(store, tmp_path):
    root = tmp_path / "results"
    (root / "other").mkdir(parents=True)
    (root / "other" / "summary.md").write_text("# another study's page")
    (root / "other" / "big.png").write_bytes(b"x" * 4_990_000)
    dest = root / "tiny"
    result = CliRunner().invoke(main, ["report", str(store), "--study", "tiny", "--publish", str(dest)])
    assert result.exit_code == 2 and not dest.exists()
    assert result.output.startswith("error: publication refused:") and result.output.count("\n") == 1


def test_large_figures_are_downscaled(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, size=(1200, 1600, 3), dtype=np.uint8)
    path = tmp_path / "big.png"
    Image.fromarray(noise).save(path)
    assert path.stat().st_size > MAX_FIGURE_BYTES
    data = small_png(path)
    assert len(data) <= MAX_FIGURE_BYTES and Image.open(io.BytesIO(data)).width < 1600


def test_compact_runs_rounds_and_flattens(tmp_path):
    runs = pd.DataFrame({"run": ["a"], "path": ["/x"], "v": [0.123456789], "d": [{"k": 1}]})
    assert compact_runs(runs).decode().splitlines() == ["run,v,d", "a,0.1235,{'k': 1}"]
    with pytest.raises(DataError, match=r"no summary\.md"):
        publish(tmp_path, runs, tmp_path / "x")


def test_files_beside_the_publication_that_are_no_publications_do_not_count(store, tmp_path):
    """Publishing to /tmp/pub-dst was refused because /tmp held 8.9 GB of unrelated files."""
    (tmp_path / "unrelated").mkdir()
    (tmp_path / "unrelated" / "big.bin").write_bytes(b"x" * 6_000_000)
    dest = tmp_path / "tiny"
    result = CliRunner().invoke(main, ["report", str(store), "--study", "tiny", "--publish", str(dest)])
    assert result.exit_code == 0, result.output
    assert (dest / "summary.md").is_file()


def _publish(store, dest):
    return CliRunner().invoke(main, ["report", str(store), "--study", "tiny", "--publish", str(dest)])


def test_a_destination_that_is_no_publication_is_refused_and_kept(store, tmp_path, monkeypatch):
    source = tmp_path / "repo" / "src"
    source.mkdir(parents=True)
    (source / "important.py").write_text("keep me")
    results = tmp_path / "docs" / "results"
    (results / "other").mkdir(parents=True)
    (results / "other" / "summary.md").write_text("# another study's page")
    for dest, reason in [
        (source, "it holds important.py"),
        (results, "it holds the folder other"),  # the study's name forgotten
        (store, "the results folder"),
        (store / "tiny", "or lies inside it"),
        (tmp_path / "repo", "the working folder"),
    ]:
        monkeypatch.chdir(tmp_path / "repo")
        result = _publish(store, dest)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: cannot publish to {dest}:") and reason in result.output
        assert result.output.count("\n") == 1
    assert (source / "important.py").read_text() == "keep me"
    assert (results / "other" / "summary.md").is_file()
    assert len(list((store / "tiny").glob("*/seed_*/summary.json"))) == 2  # the stored runs are untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "repo"]  # nothing left behind
