import pandas as pd

from sparsernn.studies.report import _overview, _varying


def _runs() -> pd.DataFrame:
    # a sweep over family [default, watts_strogatz] x first [default, 10]: configs leave defaults out
    return pd.DataFrame(
        {
            "run": ["a", "b", "c", "d"],
            "seed": [0, 0, 0, 0],
            "status": ["ok"] * 4,
            "model.cell": ["gru"] * 4,
            # loading writes an empty section as the text "{}"
            "params": ["{}", float("nan"), float("nan"), float("nan")],
            "params.family": [None, "watts_strogatz", float("nan"), "watts_strogatz"],
            "params.first": [float("nan"), float("nan"), 10.0, 10.0],
            "params.sparsities": [[0.1, 0.2]] * 4,
            "train.epochs": [15] * 4,
        }
    )


def test_a_column_left_at_its_default_in_some_runs_varies():
    assert _varying(_runs()) == ["params.family", "params.first"]


def test_overview_names_defaults_instead_of_nan():
    lines = _overview(_runs())
    assert lines[0] == "| seed | status | model.cell | params.family | params.first |"  # no run hash
    assert lines[2] == "| 0 | ok | gru | (default) | (default) |"
    assert lines[5] == "| 0 | ok | gru | watts_strogatz | 10 |"
    assert not any("nan" in line or "None" in line for line in lines)
