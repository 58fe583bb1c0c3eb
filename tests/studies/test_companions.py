"""The seed study takes seed 0 from its companion (the paired structure study) instead of retraining it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sparsernn.studies.reports.companions import (
    COMPANIONS,
    complete_graphs,
    load_companion,
    pool_seeds,
    settings_difference,
    with_companion,
)

CONFIG = {
    "protocol": "darji_structure",
    "data": {"name": "darji_reber", "batch_size": 128, "options": {"source": "files", "path": "thesis"}},
    "model": {"readout": "last"},
    "train": {"epochs": 15, "lr": 0.001, "clip": 5.0},
    "params": {"graphs": "graphs.jsonl.gz", "file_layers": True, "gate_masks": "interleaved"},
}


def _runs(study: str, seeds: list[int], first: int, count: int, **changes) -> pd.DataFrame:
    rows = []
    for cell in ("gru", "lstm"):
        for seed in seeds:
            rows.append(
                {"run": f"{study}/{cell}{first}/seed_{seed}", "study": study, "seed": seed, "status": "ok"}
                | {"protocol": "darji_structure", "model.cell": cell, "model.readout": "last"}
                | {"params.family": "barabasi_albert", "params.first": first, "params.count": count}
                | {"params.gate_masks": "interleaved", "train.epochs": 15, "data.name": "darji_reber"}
                | changes
            )
    return pd.DataFrame(rows)


def _table(runs: pd.DataFrame) -> pd.DataFrame:
    """One model per graph of each run: accuracy = a graph effect plus seed noise."""
    rows = []
    for run in runs.to_dict("records"):
        for graph in range(run["params.first"], run["params.first"] + run["params.count"]):
            noise = np.random.default_rng([graph, run["seed"]]).normal(0, 0.02)
            rows.append(
                {"run": run["run"], "cell": run["model.cell"], "family": run["params.family"]}
                | {"graph": graph, "seed": run["seed"], "accuracy": 0.5 + 0.05 * graph + noise}
            )
    return pd.DataFrame(rows)


def test_the_seed_study_declares_the_paired_study_as_its_companion():
    assert COMPANIONS["darji-seeds"] == "darji-structure-thesis"
    assert COMPANIONS["darji-seeds-small"] == "darji-structure-thesis-small"


def _recipe_configs(name: str) -> dict:
    from sparsernn.studies import load_recipe
    from sparsernn.studies.builtin import find_recipe

    out: dict = {}
    for config in load_recipe(find_recipe(name))[1]:
        dump = config.model_dump(mode="json")
        params = dump.pop("params")
        first = params.pop("first", 0)  # the recipe's dump leaves defaults out (first 0, count 10)
        graphs = set(range(first, first + params.pop("count", 10)))
        params.pop("save_models", None)
        key = (dump["model"]["cell"], params.get("family", "barabasi_albert"))
        seed, _ = dump.pop("seed"), dump.pop("study")
        entry = out.setdefault(key, {"settings": [], "graphs": set(), "seeds": set()})
        entry["settings"].append(json.dumps(dump | {"params": params}, sort_keys=True))
        entry["graphs"] |= graphs
        entry["seeds"].add(seed)
    return out


@pytest.mark.parametrize("study", sorted(COMPANIONS))
def test_companion_recipes_agree_in_every_setting_and_cover_the_graphs(study):
    """A recipe with a companion trains the seeds the companion lacks, of graphs the companion trained,
    with the same settings but the ones that choose the graphs (else the report refuses to pool)."""
    ours, theirs = _recipe_configs(study), _recipe_configs(COMPANIONS[study])
    assert set(ours) <= set(theirs)
    for key, mine in ours.items():
        other = theirs[key]
        assert set(mine["settings"]) == set(other["settings"]) and len(set(mine["settings"])) == 1, key
        assert mine["graphs"] <= other["graphs"], key
        assert not mine["seeds"] & other["seeds"] and mine["seeds"], key


def test_settings_that_only_choose_the_graphs_may_differ():
    ours, theirs = _runs("s", [1, 2], 0, 5), _runs("t", [0], 0, 10)
    assert settings_difference(ours, theirs) is None
    assert settings_difference(ours, theirs.assign(**{"params.save_models": False})) is None


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("train.epochs", 10),
        ("params.gate_masks", "blocked"),
        ("data.name", "reber"),
        ("model.readout", "mean"),
    ],
)
def test_any_other_setting_that_differs_is_named(column, value):
    message = settings_difference(_runs("s", [1], 0, 5), _runs("t", [0], 0, 10, **{column: value}))
    assert message is not None and message.startswith(f"{column} (") and "\n" not in message


def test_a_setting_only_one_study_records_counts_as_a_difference():
    message = settings_difference(
        _runs("s", [1], 0, 5), _runs("t", [0], 0, 10, **{"params.file_layers": True})
    )
    assert message == "params.file_layers (None vs True) for gru, barabasi_albert"


def test_seed_zero_comes_from_the_companion_for_the_same_graphs_only():
    ours = _table(_runs("s", [1, 2], 0, 5))
    theirs = _table(_runs("t", [0], 0, 10))
    pooled, added = pool_seeds(ours, theirs)
    assert added == 10  # graphs 0-4 of two cells; graphs 5-9 were not trained by the seed study
    assert len(pooled) == len(ours) + 10 and pooled["graph"].max() == 4
    assert complete_graphs(pooled) == (10, 10, [0, 1, 2])


def test_a_seed_the_study_trained_itself_is_not_replaced():
    ours = _table(_runs("s", [0, 1], 0, 3))
    pooled, added = pool_seeds(ours, _table(_runs("t", [0], 0, 10)))
    assert added == 0 and pooled.equals(ours)


def test_with_companion_pools_and_says_how_many_graphs_have_every_seed():
    ours = _runs("darji-seeds", [1, 2], 0, 5)
    theirs = _runs("darji-structure-thesis", [0], 0, 3)  # the companion is partial: graphs 0-2 only
    found = ("darji-structure-thesis", theirs, pd.DataFrame())
    pooled, note = with_companion("darji-seeds", ours, _table(ours), lambda r, m: _table(r), found)
    assert len(pooled) == len(_table(ours)) + 6
    assert "for 6 of its 10 graphs; 6 of the 10 graphs have all 3 seeds (0, 1, 2)" in note[0]


def test_with_companion_refuses_to_mix_other_settings_in_one_line():
    ours = _runs("darji-seeds", [1, 2], 0, 5)
    found = (
        "darji-structure-thesis",
        _runs("darji-structure-thesis", [0], 0, 10, **{"train.epochs": 5}),
        None,
    )
    pooled, note = with_companion("darji-seeds", ours, _table(ours), lambda r, m: _table(r), found)
    assert pooled.equals(_table(ours))
    assert note[0] == (
        "Seeds not pooled with `darji-structure-thesis`: its runs differ in train.epochs (15 vs 5) for gru, "
        "barabasi_albert; expected the same settings."
    )


def test_a_study_without_companion_is_left_alone():
    runs = _runs("darji-structure-thesis", [0], 0, 5)
    assert load_companion("darji-structure-thesis", runs) is None
    table, note = with_companion("other", runs, _table(runs), lambda r, m: _table(r))
    assert note == [] and table.equals(_table(runs))


# --- end to end: the structure report of a store holding both studies ---------------------------------


def _write_run(root, study, digest, seed, cell, first, count, epochs=15):
    folder = root / study / digest / f"seed_{seed}"
    folder.mkdir(parents=True)
    config = json.loads(json.dumps(CONFIG)) | {"study": study, "seed": seed, "hash": digest}
    config["model"]["cell"] = cell
    config["train"]["epochs"] = epochs
    config["params"] |= {"family": "barabasi_albert", "first": first, "count": count}
    (folder / "config.json").write_text(json.dumps(config))
    lines = []
    for graph in range(first, first + count):
        accuracy = 0.5 + 0.04 * graph + np.random.default_rng([graph, seed, len(cell)]).normal(0, 0.02)
        features = {"nodes": 10.0 + graph, "edges": 12.0 + 2 * graph + (graph % 3)}
        lines += [
            {"graph": graph, "phase": "reference", "values": {"accuracy": accuracy + 0.01}},
            {"graph": graph, "phase": "features", "values": features},
            {"graph": graph, "phase": "final", "values": {"accuracy": accuracy, "loss": 0.1}},
        ]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (folder / "summary.json").write_text(json.dumps({"status": "ok", "reason": "", "graphs": count}))


def _store(root, companion_epochs=15):
    for k, cell in enumerate(("gru", "lstm")):
        for seed in (1, 2):
            _write_run(root, "darji-seeds", f"aaaaaaaaaa{k}{seed}", seed, cell, 0, 4)
        _write_run(root, "darji-structure-thesis", f"bbbbbbbbbbb{k}", 0, cell, 0, 8, companion_epochs)
    return root


def test_the_seed_report_takes_seed_zero_from_the_companion_in_the_same_folder(tmp_path):
    from sparsernn.studies.report import write_report

    text = write_report(_store(tmp_path), tmp_path / "out", study="darji-seeds").read_text()
    assert "for 8 of its 8 graphs; 8 of the 8 graphs have all 3 seeds (0, 1, 2)" in text
    noise = text.split("### Seed noise")[1].split("####")[0]
    seed_rows = [
        line for line in noise.splitlines() if line.startswith(("| gru | 4 | 3 |", "| lstm | 4 | 3 |"))
    ]
    assert len(seed_rows) == 2  # the seed-noise table: 4 graphs × 3 seeds per cell


def test_the_seed_report_does_not_pool_a_companion_with_other_settings(tmp_path):
    from sparsernn.studies.report import write_report

    text = write_report(
        _store(tmp_path, companion_epochs=3), tmp_path / "out", study="darji-seeds"
    ).read_text()
    assert "Seeds not pooled with `darji-structure-thesis`: its runs differ in train.epochs (15 vs 3)" in text
    assert "| gru | 4 | 2 |" in text  # the seed-noise table on the study's own two seeds
