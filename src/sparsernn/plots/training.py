"""Accuracy against epochs for the configs of a study, mean ± band over seeds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sparsernn.plots.style import ACCURACY_LIMITS, draw_mean_band, new_figure, save


def plot_training_curves(stats: pd.DataFrame, path: str | Path) -> Path | None:
    """Test accuracy per epoch, one line per config: the mean over seeds and its 95 % band.

    ``stats`` has one row per ``label`` (the legend text: a config's swept values) and ``step``
    (epochs of the trained phases, one after the other) with ``mean``, ``ci95_low`` and ``ci95_high``
    (as :func:`sparsernn.studies.tables.seed_stats` writes them; a band is drawn where the interval is
    known, i.e. with two seeds or more). Returns None (and writes nothing) when ``stats`` is empty.

    Examples
    --------
    >>> import pandas as pd
    >>> stats = pd.DataFrame({"label": ["cell=gru"] * 2, "step": [1, 2], "mean": [0.5, 0.7],
    ...                       "ci95_low": [0.4, 0.6], "ci95_high": [0.6, 0.8]})
    >>> plot_training_curves(stats, "training.png").name  # doctest: +SKIP
    'training.png'
    """
    if stats.empty:
        return None
    fig, ax = new_figure()
    for i, (label, group) in enumerate(stats.groupby("label", sort=True)):
        draw_mean_band(
            ax,
            group.sort_values("step"),
            x="step",
            label=str(label),
            limits=ACCURACY_LIMITS,
            color=f"C{i % 10}",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (mean over seeds, 95 % band)")
    ax.grid(alpha=0.3)
    if stats["label"].nunique() <= 12:
        ax.legend(fontsize="small")
    return save(fig, path)
