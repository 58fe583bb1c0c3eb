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


def save(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG (``dpi`` dots per inch) atomically and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


ACCURACY_LIMITS = (0.0, 1.0)
"""Where an accuracy lives: a band around a mean accuracy is clipped to it."""


def clip_band(
    low: np.ndarray, high: np.ndarray, limits: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """``low`` and ``high`` clipped to ``limits`` (unchanged when None); NaN stays NaN.

    A t-interval around a mean accuracy near 1 reaches above 1, where no accuracy can lie.

    Examples
    --------
    >>> clip_band(np.array([-0.1, 0.5, np.nan]), np.array([0.2, 1.04, np.nan]), ACCURACY_LIMITS)
    (array([0. , 0.5, nan]), array([0.2, 1. , nan]))
    """
    if limits is None:
        return low, high
    return np.clip(low, *limits), np.clip(high, *limits)


def draw_mean_band(
    ax: plt.Axes,
    stats: pd.DataFrame,
    *,
    x: str,
    label: str,
    scale: float = 1.0,
    limits: tuple[float, float] | None = None,
    **style,
) -> None:
    """Draw ``stats["mean"]`` against ``stats[x]`` (times ``scale``) and shade ``ci95_low``–``ci95_high``.

    The band is left out where the interval is unknown (one seed: NaN), so a single run is a plain line;
    ``limits`` clips it (:data:`ACCURACY_LIMITS` for an accuracy).

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
    (line,) = ax.plot(xs, stats["mean"].to_numpy(dtype=float), label=label, **{"marker": ".", **style})
    if {"ci95_low", "ci95_high"} <= set(stats.columns):
        low, high = stats["ci95_low"].to_numpy(dtype=float), stats["ci95_high"].to_numpy(dtype=float)
        low, high = clip_band(low, high, limits)
        known = np.isfinite(low) & np.isfinite(high)
        if known.any():
            ax.fill_between(xs, low, high, where=known, color=line.get_color(), alpha=0.2, lw=0)
