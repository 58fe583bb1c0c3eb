"""Errors by Darji-Reber block: each run's saved model evaluated again, against an independent count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from sparsernn.data.batch import collate
from sparsernn.data.reber import DARJI_BLOCKS, darji_block_sizes, darji_data, darji_strings
from sparsernn.data.text import CharDataset
from sparsernn.nn import load_classifier
from sparsernn.results import load
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies.pool import one_thread
from sparsernn.studies.reports.reber_blocks import block_section, errors_by_block

N_VALID = 100

RECIPE = {
    "study": "blocks",
    "protocol": "darji_pruning",
    "seeds": [0, 1],
    "data": {"name": "darji_reber", "options": {"n_valid": N_VALID}, "batch_size": 16},
    "model": {"cell": "rnn_tanh", "hidden_size": 6, "num_layers": 1, "embedding_dim": 4},
    "train": {"epochs": 2, "lr": 0.02},
    "params": {"kinds": ["both"], "sparsities": [0.5], "recovery_epochs": 1},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    outcome = run_sweep(expand(parse_recipe(RECIPE)), root, progress=False)
    assert outcome.ok == 2
    return root


def _expected(run: dict) -> dict[str, tuple[int, int]]:
    """(wrong, strings) per block, the blocks known from where ``darji_strings`` put each string."""
    seed = int(run["seed"])
    strings = [s for s, _ in darji_strings(seed=seed, n_valid=N_VALID)]
    names = ["valid"] * N_VALID
    for block, size in zip(DARJI_BLOCKS, darji_block_sizes(N_VALID)):
        names += [block.name] * size
    block_of = dict(zip(strings, names))
    _, test = darji_data(seed=seed, n_valid=N_VALID)
    model = load_classifier(Path(run["path"]) / "model.safetensors").eval()
    with torch.no_grad(), one_thread():  # the report's thread count: the same arithmetic on any CPU
        (batch,) = DataLoader(CharDataset(test), batch_size=256, collate_fn=collate)  # one batch, as the run
        wrong = (model(batch.x, batch.lengths).argmax(dim=1) != batch.y).tolist()
    counts: dict[str, tuple[int, int]] = {}
    for (s, _), miss in zip(test, wrong):
        w, n = counts.get(block_of[s], (0, 0))
        counts[block_of[s]] = (w + miss, n + 1)
    return counts


def _shown(values: list[int]) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}–{max(values)}"


def test_errors_by_block_match_an_independent_count(store):
    runs = load(store)
    table, mismatched = errors_by_block(runs)
    assert mismatched == []  # the recomputed accuracy is the recorded base accuracy
    expected = [_expected(run) for run in runs.to_dict("records")]
    assert table["cell"].tolist() == ["rnn_tanh"] and table["seeds"].tolist() == [2]
    blocks = ["valid", *(b.name for b in DARJI_BLOCKS)]
    assert [c for c in table.columns if c not in ("cell", "seeds")] == blocks
    for block in blocks:
        wrong = [counts.get(block, (0, 0))[0] for counts in expected]  # a block may miss a seed's test split
        strings = [counts.get(block, (0, 0))[1] for counts in expected]
        assert table[block].iloc[0] == f"{_shown(wrong)} of {_shown(strings)}", block
    assert sum(n for counts in expected for _, n in counts.values()) == 2 * 50  # every test string counted


def test_the_section_warns_when_a_recorded_accuracy_is_not_the_models(store, tmp_path):
    lines = block_section(load(store))
    assert lines[0].startswith("### Where the base models err") and "Warning" not in "\n".join(lines)
    summary = next(store.glob("blocks/*/seed_1/summary.json"))
    original = summary.read_text()
    try:
        summary.write_text(json.dumps(json.loads(original) | {"base_accuracy": 0.123}))
        shown = "\n".join(block_section(load(store)))
        assert (
            "**Warning**: the recomputed test accuracy is not the recorded" in shown
            and "rnn_tanh seed 1" in shown
        )
    finally:
        summary.write_text(original)


def test_the_section_says_why_it_is_missing_and_stays_out_of_other_studies(store):
    runs = load(store)
    assert block_section(runs.assign(**{"data.name": "mnist1d"})) == []
    assert block_section(runs.assign(path=str(store))) == []  # no saved model: nothing to evaluate
    model = next(store.glob("blocks/*/seed_0/model.safetensors"))
    original = model.read_bytes()
    try:
        model.write_bytes(b"not a checkpoint")
        lines = block_section(load(store))
        assert len(lines) == 4 and lines[2].startswith("Not computed: ") and "\n" not in lines[2]
    finally:
        model.write_bytes(original)
