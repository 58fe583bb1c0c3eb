"""Accuracy against epochs for the runs of a study."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparsernn.plots.style import new_figure, save

TRAINING_PHASES = ("dense", "base", "finetune")


def plot_training_curves(metrics: pd.DataFrame, labels: dict[str, str], path: str | Path) -> Path | None:
    """Test accuracy per epoch of each run (``metrics`` in the long format of ``load_metrics``).

    ``labels`` maps run ids to legend labels. Only the phases that train one model through
    consecutive epochs are drawn (``TRAINING_PHASES``: dense training, the base model of a pruning
    study, fine-tuning after one-shot pruning), one after the other on the x axis; the many short
    retrainings of a pruning study have figures of their own. Returns None (and writes nothing)
    when there is no such phase.
    """
    phase = metrics.get("phase", pd.Series("dense", index=metrics.index))
    acc = metrics[(metrics["name"] == "accuracy") & metrics["epoch"].notna() & phase.isin(TRAINING_PHASES)]
    if acc.empty:
        return None  # nothing trained epoch by epoch (e.g. a protocol with its own figures)
    fig, ax = new_figure()
    for run, group in acc.groupby("run", sort=True):
        ax.plot(range(1, len(group) + 1), group["value"].to_numpy(), marker=".", label=labels.get(run, run))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    if len(labels) <= 12:
        ax.legend(fontsize="small")
    return save(fig, path)
