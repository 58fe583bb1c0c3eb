"""A report of a built-in study says how much of its recipe's plan is in the store, and what is missing."""

from __future__ import annotations

import pandas as pd
import pytest

from sparsernn.studies import load_recipe
from sparsernn.studies.headline import headline, headlines
from sparsernn.studies.recipe_coverage import coverage_lines, naming_columns, plan_of
from sparsernn.studies.report import write_report
from sparsernn.studies.sweep import run_sweep

pytestmark = pytest.mark.timeout(120)


def test_a_partial_store_reads_as_partial_with_the_missing_seeds(tmp_path):
    # one of the smoke recipe's four runs, exactly as the recipe plans it (narrowing the sweep keeps
    # run keys), and one run of other settings (an override that changes its config)
    _, planned = load_recipe("smoke", overrides=["sweep.model.cell=[lstm]"])
    _, other = load_recipe("smoke", overrides=["sweep.model.cell=[gru]", "train.epochs=1"])
    assert run_sweep([*planned, *other], tmp_path, progress=False).ok == 2

    text = write_report(tmp_path, study="smoke").read_text()

    assert (
        "Against the built-in recipe `smoke`: 1 of its 4 planned runs are complete here, 0 failed and "
        "3 not yet run: **this study is partial**" in text
    )
    assert "1 run is here of other settings than the recipe's." in text
    assert "| cell | complete | failed | not yet |" in text
    assert "| lstm | 0 | – | – |" in text
    assert "| gru | – | – | 0 |" in text  # the gru run here has other settings: not the planned one
    assert any(
        "this study is partial" in line for block in headlines(text) for line in block
    )  # README shows it


def test_a_complete_plan_says_so_without_a_table_as_a_headline_of_the_page():
    planned = plan_of("smoke")
    runs = pd.DataFrame({"run": planned["run"], "status": "ok"})
    lines = coverage_lines("smoke", runs, planned)
    assert lines == [
        *headline(["Against the built-in recipe `smoke`: 4 of its 4 planned runs are complete here."]),
        "",
    ]


def test_failed_runs_are_neither_complete_nor_pending():
    planned = plan_of("smoke")
    runs = pd.DataFrame({"run": planned["run"][:2], "status": ["ok", "failed"]})
    lines = coverage_lines("smoke", runs, planned)
    assert "1 of its 4 planned runs are complete here, 1 failed and 2 not yet run" in lines[1]
    assert "| rnn_relu | – | 0 | – |" in lines  # the second planned run (the sweep's order)


def test_configurations_are_named_by_dataset_and_cell_not_by_what_they_imply():
    planned = plan_of("kalra-controlled")
    assert len(planned) == 45
    assert naming_columns(planned.drop(columns=["run"])) == ["data.name", "model.cell"]
    lines = coverage_lines("kalra-controlled", pd.DataFrame({"run": ["x/seed_0"], "status": ["ok"]}), planned)
    assert lines[1].startswith("Against the built-in recipe `kalra-controlled`: 0 of its 45 planned runs")
    assert "| mnist1d | gru | – | – | 0, 1, 2, 3, 4 |" in lines


def test_a_study_that_is_no_built_in_recipe_gets_no_coverage_lines():
    assert plan_of("my-own-study") is None
    assert coverage_lines("my-own-study", pd.DataFrame({"run": ["x/seed_0"], "status": ["ok"]}), None) == []
