"""Darji pruning levels and recovery epochs as ranges over seeds, against the thesis' levels."""

from __future__ import annotations

import pandas as pd

from sparsernn.studies.reports.pruning_ranges import THESIS_LEVELS, level_ranges, recovery_ranges


def test_thesis_levels_hold_the_published_values():
    safe = {c: THESIS_LEVELS[(c, "safe", "both")] for c in ("rnn_tanh", "rnn_relu", "lstm", "gru")}
    assert safe == {"rnn_tanh": 0.8, "rnn_relu": 0.7, "lstm": 0.6, "gru": 0.8}
    assert (
        THESIS_LEVELS[("gru", "recovers", "hh")] == 1.0
        and THESIS_LEVELS[("rnn_tanh", "recovers", "ih")] == 0.9
    )


def test_level_ranges_say_whether_the_thesis_level_is_inside():
    runs = pd.DataFrame(
        {"model.cell": ["lstm"] * 3 + ["gru"] * 3, "safe_sparsity_both": [0.3, 0.5, 0.4, 0.8, 0.8, 0.8]}
        | {"recovered_sparsity_both": [0.9, 1.0, 0.9, 0.9, 0.9, 0.9]}
    )
    table = level_ranges(runs, ["both"]).set_index(["cell", "measure"])
    assert (
        table.loc[("lstm", "safe"), "ours (seeds)"] == "30–50%"
        and table.loc[("lstm", "safe"), "inside"] == "no"
    )
    assert (
        table.loc[("gru", "safe"), "ours (seeds)"] == "80%" and table.loc[("gru", "safe"), "inside"] == "yes"
    )
    assert table.loc[("lstm", "recovers"), "inside"] == "yes" and table.loc[("gru", "safe"), "seeds"] == 3


def test_recovery_epochs_per_seed_against_its_own_base():
    runs = pd.DataFrame({"run": ["a", "b"], "model.cell": ["gru", "gru"], "base_accuracy": [0.9, 0.8]})
    curves = {"a": [0.5, 0.7, 0.9], "b": [0.5, 0.8, 0.8]}  # a recovers at epoch 2, b at epoch 1
    rows = [
        {
            "run": r,
            "phase": "recovery",
            "name": "accuracy",
            "kind": "both",
            "sparsity": 0.5,
            "epoch": e,
            "value": v,
        }
        for r, accs in curves.items()
        for e, v in enumerate(accs)
    ]
    never = {"run": "b", "phase": "recovery", "name": "accuracy", "kind": "both", "sparsity": 1.0}
    rows += [{"run": "a", **{k: v for k, v in never.items() if k != "run"}, "epoch": 0, "value": 0.9}]
    rows += [never | {"epoch": 0, "value": 0.5}]
    table = recovery_ranges(runs, pd.DataFrame(rows), tolerance=0.0)
    assert table.to_dict("records") == [{"cell": "gru", "kind": "both", "p=50%": "1–2", "p=100%": "0–-"}]


def test_the_pruning_report_shows_ranges_next_to_the_thesis(tmp_path, one_torch_thread):
    from sparsernn.studies import expand, parse_recipe, run_sweep
    from sparsernn.studies.report import write_report

    recipe = {
        "study": "p",
        "protocol": "darji_pruning",
        "seeds": [0, 1],
        "data": {"name": "darji_reber", "options": {"n_valid": 60}, "batch_size": 16},
        "model": {"hidden_size": 6, "num_layers": 2, "embedding_dim": 4},
        "train": {"epochs": 1},
        "params": {"kinds": ["both", "hh"], "sparsities": [0.5, 1.0], "recovery_epochs": 1},
        "sweep": {"model.cell": ["gru", "rnn_tanh"]},
    }
    assert run_sweep(expand(parse_recipe(recipe)), tmp_path, progress=False).ok == 4
    text = write_report(tmp_path).read_text()
    assert "### Against the thesis: ranges over seeds" in text
    rows = [line for line in text.splitlines() if line.startswith("| gru | both | safe | 2 |")]
    assert len(rows) == 1
    ours, thesis, inside = (c.strip() for c in rows[0].strip("|").split("|")[-3:])
    low, _, high = ours.rstrip("%").partition("–")
    within = float(low) <= 80 <= float(high or low)
    assert thesis == "80%" and inside == ("yes" if within else "no")
