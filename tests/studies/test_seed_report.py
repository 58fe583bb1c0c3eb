"""A report of a tiny 2-seed sweep aggregates seeds (mean, std, n, 95 % CI), names lines by the swept
values (never by run hash) and defines the symbols it shows. The store is written with the results
API: nothing is trained."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.figure
import pytest

from sparsernn.results import RunKey, RunRecord, write_run
from sparsernn.studies.report import write_report
from sparsernn.studies.tables import seed_stats

OLD_STORE = Path(__file__).parent / "old_store" / "results"
HASHES = {("gru", 8): "aaaaaaaaaaa1", ("gru", 16): "bbbbbbbbbbb2", ("lstm", 8): "ccccccccccc3"}


def _train_run(cell: str, hidden: int, seed: int) -> RunRecord:
    config = {
        "study": "sweep",
        "protocol": "train",
        "seed": seed,
        "model": {"cell": cell, "hidden_size": hidden},
    }
    accuracy = 0.5 + 0.1 * seed + (0.2 if cell == "lstm" else 0.0)
    rows = [{"phase": "dense", "epoch": e, "values": {"accuracy": accuracy + 0.01 * e}} for e in (1, 2, 3)]
    summary = {"status": "ok", "test_accuracy": accuracy, "dense_accuracy": accuracy, "density": 1.0}
    return RunRecord(RunKey("sweep", HASHES[cell, hidden], seed), config, summary, rows)


def _expansion_rows(q: float, shift: float) -> list[dict]:
    index = {"phase": "expansion", "level": q, "module": "rnn", "layer": 0, "direction": "forward"}
    index |= {"view": "hh", "gate": "stack", "gates": "stack"}
    return [
        {**index, "weighted": False, "values": {"delta_s": q - 0.5 + shift, "delta_r": q - 0.3 + shift}},
        {**index, "weighted": True, "values": {"delta_s": q - 0.4 + shift, "gap_weighted": q + shift}},
    ]


def _iterative_run(cell: str, seed: int) -> RunRecord:
    config = {"study": "kalra", "protocol": "iterative_pruning", "seed": seed, "model": {"cell": cell}}
    config["params"] = {"densities": [1.0, 0.5, 0.25], "gates": ["stack"], "views": ["hh"]}
    rows = []
    for q in (1.0, 0.5, 0.25):
        rows.append({"phase": "finetuned", "level": q, "values": {"accuracy": 0.4 + 0.5 * q + 0.02 * seed}})
        rows += _expansion_rows(q, 0.05 * seed)
    summary = {"status": "ok", "final_accuracy": 0.5 + 0.02 * seed, "accuracies": [0.9, 0.65, 0.5]}
    return RunRecord(RunKey("kalra", f"{cell}dddddddd"[:12], seed), config, summary, rows)


@pytest.fixture
def report(tmp_path, monkeypatch):
    for seed in (0, 1):
        for cell, hidden in HASHES:
            write_run(tmp_path / "results", _train_run(cell, hidden, seed))
        for cell in ("gru", "lstm"):
            write_run(tmp_path / "results", _iterative_run(cell, seed))
    legends: dict[str, list[str]] = {}
    bands: dict[str, int] = {}
    savefig = matplotlib.figure.Figure.savefig

    def recording(fig, path, *args, **kwargs):  # the legend texts of every figure the report saves
        texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        legends[str(path).replace(".tmp", "").lstrip(".")] = texts
        bands[str(path).rsplit("/", 1)[-1].replace(".tmp", "").lstrip(".")] = sum(
            len(ax.collections) for ax in fig.axes
        )
        return savefig(fig, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", recording)
    summary = write_report(tmp_path / "results", tmp_path / "report").read_text()
    (tmp_path / "bands.txt").write_text(repr(bands))
    return summary, {k.rsplit("/", 1)[-1].lstrip("."): v for k, v in legends.items()}, bands


def test_seed_stats_uses_the_t_interval():
    import pandas as pd

    table = seed_stats(pd.DataFrame({"g": ["a", "a", "a", "b"], "v": [1.0, 2.0, 3.0, 5.0]}), ["g"], "v")
    a, b = table.to_dict("records")
    assert (a["n"], a["mean"], a["std"]) == (3, 2.0, 1.0)
    assert a["ci95_low"] == pytest.approx(2.0 - 4.302653 / 3**0.5, rel=1e-6)  # t(0.975, 2) = 4.3027
    assert b["n"] == 1 and pd.isna(b["std"]) and pd.isna(b["ci95_low"])


def test_report_aggregates_seeds_with_ci_columns(report):
    summary, _, _ = report
    assert "| config | score | mean | std | n | ci95_low | ci95_high |" in summary
    rows = [
        line for line in summary.splitlines() if line.startswith("| cell=gru, hidden_size=8 | test_accuracy")
    ]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[2:5] == ["0.55", "0.07071", "2"]  # mean, std, n over seeds 0 and 1
    assert float(cells[5]) == pytest.approx(0.55 - 12.7062 * 0.070711 / 2**0.5, abs=1e-3)
    assert "| cell=lstm | 2 | rnn L0 hh stack Δ_S |" in summary  # iterative configs: n = 2 seeds


def test_no_run_hash_in_summary_or_legends(report):
    summary, legends, _ = report
    hashes = [*HASHES.values(), "gruddddddddd", "lstmdddddddd"]
    assert not any(h in summary for h in hashes)
    assert legends["training_sweep.png"] == [
        "cell=gru, hidden_size=16",
        "cell=gru, hidden_size=8",
        "cell=lstm, hidden_size=8",
    ]
    expansion = legends["expansion_cell=gru_unweighted.png"]
    assert expansion[0] == "accuracy" and "rnn L0 hh stack Δ_S" in expansion
    every = [text for texts in legends.values() for text in texts]
    assert every and not any(h in text for h in hashes for text in every)


def test_every_symbol_shown_is_defined(report):
    summary, _, _ = report
    glossary = summary.split("### Glossary", 1)[1]
    for symbol in ("Δ_S", "Δ_R", "λ_w", "q", "n", "mean", "std", "ci95_low", "ci95_high"):
        assert f"- `{symbol}`:" in glossary


def test_figures_shade_the_band_of_each_mean_line(report):
    _, _, bands = report
    assert bands["training_sweep.png"] == 3  # one band per config (2 seeds each)
    assert bands["expansion_cell=gru_unweighted.png"] == 3  # accuracy, Δ_S and Δ_R


def test_pruning_report_aggregates_two_seeds(tmp_path):
    # the stored fx-pruning run of the old store, copied as a second seed with other accuracies
    source = next((OLD_STORE / "fx-pruning").glob("*/seed_0"))
    for seed, shift in ((0, 0.0), (1, 0.1)):
        config = json.loads((source / "config.json").read_text()) | {"seed": seed}
        rows = [json.loads(line) for line in (source / "metrics.jsonl").read_text().splitlines()]
        for row in rows:
            row["values"] = {k: v + shift if k == "accuracy" else v for k, v in row["values"].items()}
        summary = json.loads((source / "summary.json").read_text())
        summary["base_accuracy"] += shift
        key = RunKey(config["study"], config["hash"], seed)
        write_run(tmp_path / "results", RunRecord(key, config, summary, rows))
    summary = write_report(tmp_path / "results", tmp_path / "report").read_text()
    assert "### Accuracy right after pruning over seeds (95 % t interval)" in summary
    rows = [line for line in summary.splitlines() if line.startswith("| cell=lstm | both | 50% |")]
    assert len(rows) == 1 and [c.strip() for c in rows[0].strip("|").split("|")][5] == "2"  # n
    assert "| cell=lstm | 0.1 | 2 |" in summary  # base accuracy: mean over the two seeds, n
    assert config["hash"] not in summary
