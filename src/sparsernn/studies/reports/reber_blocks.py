"""Where Darji-Reber classifiers err: each run's saved model on its own test split, errors by block.

A Darji-Reber test string is a valid Reber string or a walk of one of the eight invalid blocks of
:data:`sparsernn.data.reber.DARJI_BLOCKS` (named by :func:`~sparsernn.data.reber.darji_block_of`).
A base model that stops short of 100 % need not err at random: it may miss one whole block. The
table counts, per cell and block, the test strings the saved models misclassify, as ``min–max`` over
seeds.

The models are evaluated again here (the runs save the base model, ``model.safetensors``), on the
loaders the run itself used; a run whose recomputed accuracy is not its recorded ``base_accuracy``
(its data, code or arithmetic differ from the run's) is named in a warning line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from sparsernn.data.reber import DARJI_BLOCKS, REBER_LETTERS, darji_block_of
from sparsernn.errors import SparsernnError
from sparsernn.nn.checkpoint import load_classifier
from sparsernn.results.store import read_config
from sparsernn.studies.config import make_config
from sparsernn.studies.pool import one_thread
from sparsernn.studies.protocols.common import make_loaders
from sparsernn.studies.tables import markdown_table

MODEL_FILE = "model.safetensors"
#: Column order of the table: valid strings, the blocks in the thesis' order, then anything else.
BLOCK_ORDER = ("valid", *(block.name for block in DARJI_BLOCKS), "other")


def _decoded(codes: torch.Tensor) -> str:
    """The string of a :class:`~sparsernn.data.text.CharDataset` item (its codes are the characters')."""
    return "".join(map(chr, codes.tolist()))


def block_errors(folder: str | Path) -> tuple[pd.DataFrame, float]:
    """Test strings and misclassified ones per block for the model saved in the run folder ``folder``.

    Returns a frame (``block``, ``strings``, ``wrong``; every block of :data:`BLOCK_ORDER`, in order,
    with zeros where the test split has none of its strings) and the model's test accuracy.

    Raises
    ------
    DataError, ConfigError, CheckpointError
        If the run's data cannot be built (e.g. its files moved) or its model file cannot be read.
    """
    folder = Path(folder)
    raw = {key: value for key, value in read_config(folder).items() if key != "hash"}
    config = make_config(raw, source=str(folder / "config.json"))
    loaders = make_loaders(config)
    model = load_classifier(folder / MODEL_FILE).eval()
    wrong: list[bool] = []
    # One thread: small RNNs gain nothing from more, and on a busy machine the threads' spinning makes
    # this many times slower.
    with torch.no_grad(), one_thread():
        for batch in loaders.test:
            wrong += (model(batch.x, batch.lengths).argmax(dim=1) != batch.y).tolist()
    blocks = [darji_block_of(_decoded(codes)) for codes, _ in loaders.splits.test]  # type: ignore[attr-defined]
    frame = pd.DataFrame({"block": pd.Categorical(blocks, categories=BLOCK_ORDER), "wrong": wrong})
    counts = frame.groupby("block", observed=False)["wrong"].agg(strings="size", wrong="sum").reset_index()
    return counts.astype({"block": str}), 1.0 - sum(wrong) / len(wrong)


def _range(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return f"{low}" if low == high else f"{low}–{high}"


def errors_by_block(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per cell (``model.cell``): misclassified test strings of each block as ``min–max`` over the seeds,
    ``of N`` strings; and the runs whose recomputed accuracy differs from their ``base_accuracy``.

    ``runs`` holds complete runs of a ``darji_reber`` study, with ``path`` (as
    :func:`sparsernn.results.load` gives them) and a saved model each.
    """
    rows, mismatched = [], []
    for run in runs.sort_values(["model.cell", "seed"]).to_dict("records"):
        counts, accuracy = block_errors(run["path"])
        if abs(accuracy - float(run["base_accuracy"])) > 1e-9:
            mismatched.append(f"{run['model.cell']} seed {run['seed']} ({accuracy:.5f} here)")
        rows += [{"cell": run["model.cell"], "seed": run["seed"], **row} for row in counts.to_dict("records")]
    tallies = pd.DataFrame(rows)
    present = [b for b in BLOCK_ORDER if tallies.loc[tallies["block"] == b, "strings"].sum() > 0]
    table = []
    for cell, mine in tallies.groupby("cell", sort=True):
        row = {"cell": cell, "seeds": mine["seed"].nunique()}
        for block in present:
            counts = mine[mine["block"] == block]
            row[block] = f"{_range(counts['wrong'])} of {_range(counts['strings'])}"
        table.append(row)
    return pd.DataFrame(table), mismatched


def block_section(runs: pd.DataFrame) -> list[str]:
    """The markdown section for the complete runs of one study: nothing when the study does not train
    on ``darji_reber`` or saved no models; one line saying why when the models cannot be evaluated."""
    if runs.empty or set(runs.get("data.name", ())) != {"darji_reber"} or "base_accuracy" not in runs:
        return []
    if not all((Path(path) / MODEL_FILE).is_file() for path in runs["path"]):
        return []
    lines = ["### Where the base models err: misclassified test strings by block", ""]
    try:
        table, mismatched = errors_by_block(runs)
    except SparsernnError as error:
        return [*lines, f"Not computed: {error}", ""]
    letters = ", ".join(f"`{block.name}` {block.letters}" for block in DARJI_BLOCKS)
    lines += [
        "Each saved base model evaluated again on its test split; per block, the strings it misclassifies "
        "(`min–max` over seeds) of the block's test strings. Every invalid string walks the Reber graph "
        f"with its block's letters on the ten inner edges (valid: {REBER_LETTERS}; {letters}).",
        "",
        *markdown_table(table),
        "",
    ]
    if mismatched:
        lines += [
            f"**Warning**: the recomputed test accuracy is not the recorded base accuracy for "
            f"{', '.join(mismatched)}: data, code or arithmetic differ from the run's, so the counts may "
            "not describe the run's model.",
            "",
        ]
    return lines
