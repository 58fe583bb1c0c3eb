"""Darji pruning levels and recovery epochs as ranges over seeds, against the thesis' levels."""

from __future__ import annotations

import pandas as pd

from sparsernn import prune
from sparsernn.results import load
from sparsernn.studies.reports.pruning_ranges import (
    THESIS_LEVELS,
    at_chance_note,
    level_ranges,
    pruned_side_by_side,
    recovery_ranges,
    recovery_side_by_side,
    thesis_section,
)
from sparsernn.studies.reports.thesis_pruning import (
    CELLS,
    KINDS,
    LEVELS,
    THESIS_BASE,
    THESIS_PRUNED,
    THESIS_RECOVERY_EPOCHS,
    thesis_recovers,
    thesis_safe,
)


def test_thesis_levels_are_derived_from_its_published_accuracies():
    # safe: every level up to p within 1 point of the base right after pruning (thesis' prune/<cell>.csv)
    safe = {(c, k): THESIS_LEVELS[(c, "safe", k)] for c in CELLS for k in KINDS}
    assert safe == {
        ("rnn_tanh", "both"): 0.7, ("rnn_tanh", "ih"): 0.7, ("rnn_tanh", "hh"): 0.6,
        ("rnn_relu", "both"): 0.6, ("rnn_relu", "ih"): 0.7, ("rnn_relu", "hh"): 0.7,
        ("lstm", "both"): 0.6, ("lstm", "ih"): 0.7, ("lstm", "hh"): 0.8,
        ("gru", "both"): 0.8, ("gru", "ih"): 0.8, ("gru", "hh"): 0.7,
    }  # fmt: skip
    recovers = {(c, k): THESIS_LEVELS[(c, "recovers", k)] for c in CELLS for k in KINDS}
    assert recovers == {key: 1.0 if key in {("lstm", "hh"), ("gru", "hh")} else 0.9 for key in recovers}


def test_thesis_tables_agree_with_each_other():
    """Recovery epoch 0 exactly where the accuracy right after pruning is within 1 point (two transcriptions)."""
    assert set(THESIS_PRUNED) == set(THESIS_RECOVERY_EPOCHS) == {(c, k) for c in CELLS for k in KINDS}
    for key, accuracies in THESIS_PRUNED.items():
        epochs = THESIS_RECOVERY_EPOCHS[key]
        assert len(accuracies) == len(epochs) == len(LEVELS)
        within = [a >= THESIS_BASE[key[0]] - 0.01 - 1e-12 for a in accuracies]
        assert within == [e == 0 for e in epochs], key
        assert all(0.4 < a <= 1.0 for a in accuracies)
        assert epochs[-1] is None or key[1] == "hh"  # only hh recovers from 100 %


def test_thesis_safe_level_follows_the_tolerance():
    assert thesis_safe("rnn_tanh", "both", 0.0) == 0.6 and thesis_safe("rnn_tanh", "both", 0.02) == 0.8
    assert thesis_safe("gru", "nope") is None and thesis_recovers("nope", "both") is None


def test_levels_the_thesis_did_not_publish_say_so():
    runs = pd.DataFrame(
        {"model.cell": ["rnn_relu", "custom"], "safe_sparsity_both": [0.7, 0.5]}
        | {"recovered_sparsity_both": [0.9, 0.9]}
    )
    table = level_ranges(runs, ["both"], tolerance=0.02).set_index(["cell", "measure"])
    assert table.loc[("custom", "safe"), "thesis"] == "not published"
    assert table.loc[("custom", "safe"), "inside"] == "-"
    assert table.loc[("rnn_relu", "recovers"), "thesis"] == "not published"  # published at 1 point only
    assert table.loc[("rnn_relu", "safe"), "thesis"] == "70%"  # 70 %: 0.98576 (1.4 points), 80 %: 0.54864
    assert table.loc[("rnn_relu", "safe"), "inside"] == "yes"


def test_thesis_section_gives_its_tables_for_the_cells_run():
    lines = thesis_section(["gru", "lstm"])
    text = "\n".join(lines)
    assert "harshildarji/thesis" in text and "| gru | both | 1 |" in text and "| rnn_tanh |" not in text
    assert sum(line.startswith("| lstm |") for line in lines) == 6  # 3 kinds × 2 tables


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
    assert table.to_dict("records") == [{"cell": "gru", "kind": "both", "p=50%": "1–2", "p=100%": "0–never"}]


def _recovery_rows(curves: dict[tuple[str, float], list[float]], kind: str = "both") -> pd.DataFrame:
    rows = [
        {
            "run": run,
            "phase": "recovery",
            "name": "accuracy",
            "kind": kind,
            "sparsity": p,
            "epoch": e,
            "value": v,
        }
        for (run, p), accs in curves.items()
        for e, v in enumerate(accs)
    ]
    return pd.DataFrame(rows)


def test_side_by_side_tables_put_the_thesis_under_our_range():
    runs = pd.DataFrame({"run": ["a", "b"], "model.cell": ["gru", "gru"], "base_accuracy": [1.0, 1.0]})
    metrics = _recovery_rows({("a", 0.9): [0.6, 0.995], ("b", 0.9): [0.5, 0.9], ("a", 0.8): [1.0, 1.0]})
    metrics = pd.concat([metrics, _recovery_rows({("b", 0.8): [0.98, 1.0]})])
    pruned = pruned_side_by_side(runs, metrics).to_dict("records")
    assert pruned == [
        {"cell": "gru", "kind": "both", "source": "ours (min–max over seeds)", "p=80%": "0.980–1.000"}
        | {"p=90%": "0.500–0.600"},
        {"cell": "gru", "kind": "both", "source": "thesis", "p=80%": "0.994", "p=90%": "0.551"},
    ]
    epochs = recovery_side_by_side(runs, metrics, tolerance=0.01).to_dict("records")
    assert [e["p=80%"] for e in epochs] == ["0–1", "0"] and [e["p=90%"] for e in epochs] == ["1–never", "1"]
    assert len(recovery_side_by_side(runs, metrics, tolerance=0.02)) == 1  # the thesis' epochs: 1 point only


def test_the_pruning_report_shows_ranges_next_to_the_thesis(tmp_path, one_torch_thread):
    from sparsernn.studies import expand, parse_recipe, run_sweep
    from sparsernn.studies.report import write_report

    recipe = {
        "study": "p",
        "protocol": "darji_pruning",
        "seeds": [0, 1],
        "data": {"name": "darji_reber", "options": {"n_valid": 60}, "batch_size": 16},
        "model": {"hidden_size": 6, "num_layers": 2, "embedding_dim": 4},
        "train": {"epochs": 8, "lr": 0.02},  # base models that learn (the ranges leave out chance)
        "params": {"kinds": ["both", "hh"], "sparsities": [0.5, 1.0], "recovery_epochs": 1},
        "sweep": {"model.cell": ["gru", "rnn_tanh"]},
    }
    assert run_sweep(expand(parse_recipe(recipe)), tmp_path, progress=False).ok == 4
    text = write_report(tmp_path).read_text()
    assert "### Against the thesis: ranges over seeds" in text
    rows = [line for line in text.splitlines() if line.startswith("| gru | both | safe |")]
    assert len(rows) == 1
    seeds, ours, thesis, inside = (c.strip() for c in rows[0].strip("|").split("|")[-4:])
    left_out = text.count("gru seed ")  # tiny base models may stay at chance: named, not counted
    assert int(seeds) + left_out == 2 and (left_out == 0 or "at chance** (test accuracy below 0.55)" in text)
    if int(seeds):
        low, _, high = ours.rstrip("%").partition("–")
        within = float(low) <= 80 <= float(high or low)
        assert thesis == "80%" and inside == ("yes" if within else "no")
    assert "All accuracies are **test** accuracies" in text and "validation split is used" in text
    assert "**Our levels (50, 100 %) are not the thesis' (10, 20, …, 100 %)**" in text
    assert "**Our runs retrain for 1 epoch, the thesis for 10**" in text
    assert "| gru | both | thesis | 1.000 | 0.506 |" in text  # accuracy right after pruning, 50 and 100 %
    assert "| gru | hh | thesis | 0 | 2 |" in text  # its recovery epochs
    assert text.index("### Against the thesis") < text.index("### Our runs in detail")


def test_a_base_model_at_chance_is_left_out_of_the_ranges():
    """A seed whose base model never learned loses nothing to pruning: its safe level would read 100 %."""
    runs = pd.DataFrame(
        {"run": ["a", "b", "c"], "model.cell": "rnn_tanh", "seed": [0, 1, 2]}
        | {"base_accuracy": [0.99, 0.98, 0.503], "safe_sparsity_both": [0.6, 0.7, 1.0]}
        | {"recovered_sparsity_both": [0.9, 0.9, 1.0]}
    )
    table = level_ranges(runs, ["both"]).set_index("measure")
    assert table.loc["safe", "ours (seeds)"] == "60–70%" and table.loc["safe", "seeds"] == 2
    assert table.loc["safe", "inside"] == "yes"  # the thesis' 70 %
    metrics = _recovery_rows({("a", 0.5): [0.99], ("b", 0.5): [0.95], ("c", 0.5): [0.5]})
    assert recovery_ranges(runs, metrics, tolerance=0.01).to_dict("records") == [
        {"cell": "rnn_tanh", "kind": "both", "p=50%": "0–never"}
    ]
    assert pruned_side_by_side(runs, metrics).iloc[0]["p=50%"] == "0.950–0.990"
    note = at_chance_note(runs)[0]
    assert (
        note.startswith("**Left out: 1 base model that stayed at chance**")
        and "rnn_tanh seed 2 (0.503)" in note
    )
    assert at_chance_note(runs.iloc[:2]) == []


def test_a_study_sweeping_more_than_the_cell_is_not_pooled_by_cell(tmp_path, one_torch_thread):
    """Each config keeps its own tolerance, and the per-cell thesis tables (which would mix the configs
    of one cell) are left out with a line saying why."""
    from sparsernn.results import load_metrics
    from sparsernn.studies import expand, parse_recipe, run_sweep
    from sparsernn.studies.report import write_report

    recipe = {
        "study": "p",
        "protocol": "darji_pruning",
        "data": {"name": "darji_reber", "options": {"n_valid": 60}, "batch_size": 16},
        "model": {"cell": "gru", "hidden_size": 6, "embedding_dim": 4},
        "train": {"epochs": 8, "lr": 0.02},
        "params": {"kinds": ["hh"], "sparsities": [0.5, 1.0], "recovery_epochs": 2},
        "sweep": {"params.tolerance": [0.0, 0.5]},
    }
    assert run_sweep(expand(parse_recipe(recipe)), tmp_path, progress=False).ok == 2
    text = write_report(tmp_path).read_text()
    assert "### Against the thesis" not in text
    assert "The comparison with the thesis (per cell) is left out" in text and "`params.tolerance`" in text
    metrics, runs = load_metrics(tmp_path), load(tmp_path)
    for tolerance in (0.0, 0.5):
        (run,) = runs.loc[runs["params.tolerance"] == tolerance, "run"]
        base = float(runs.loc[runs["run"] == run, "base_accuracy"].iloc[0])
        mine = metrics[
            (metrics["run"] == run) & (metrics["phase"] == "recovery") & (metrics["name"] == "accuracy")
        ]
        expected = []
        for _, level in mine.sort_values("epoch").groupby("sparsity"):
            epochs = prune.recovery_epochs(level["value"].tolist(), base, tolerance=tolerance)
            expected.append("never" if epochs is None else str(epochs))
        assert f"| tolerance={tolerance:g} | hh | {' | '.join(expected)} |" in text
