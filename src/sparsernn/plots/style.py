"""Shared figure set-up: a non-interactive backend and atomic PNG writing."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # figures are files; never open a window

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def new_figure(width: float = 6.4, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    """A figure with one axes, sized in inches."""
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def draw_mean_band(
    ax: plt.Axes, stats: pd.DataFrame, *, x: str, label: str, scale: float = 1.0, **style
) -> None:
    """Draw ``stats["mean"]`` against ``stats[x]`` (times ``scale``) and shade ``ci95_low``–``ci95_high``.

    The band is left out where the interval is unknown (one seed: NaN), so a single run is a plain line.

    Examples
    --------
    >>> stats = pd.DataFrame({"step": [1, 2], "mean": [0.5, 0.7], "ci95_low": [0.4, np.nan],
    ...                       "ci95_high": [0.6, np.nan]})
    >>> fig, ax = new_figure()
    >>> draw_mean_band(ax, stats, x="step", label="cell=gru")
    >>> [line.get_label() for line in ax.lines], len(ax.collections)
    (['cell=gru'], 1)
    >>> plt.close(fig)
    """
    xs = stats[x].astype(float).to_numpy() * scale
    (line,) = ax.plot(xs, stats["mean"].to_numpy(dtype=float), marker=".", label=label, **style)
    if {"ci95_low", "ci95_high"} <= set(stats.columns):
        low, high = stats["ci95_low"].to_numpy(dtype=float), stats["ci95_high"].to_numpy(dtype=float)
        known = np.isfinite(low) & np.isfinite(high)
        if known.any():
            ax.fill_between(xs, low, high, where=known, color=line.get_color(), alpha=0.2, lw=0)
