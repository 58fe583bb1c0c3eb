"""Figures of pruning studies: accuracy right after pruning vs sparsity, recovery curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sparsernn.plots.style import ACCURACY_LIMITS, clip_band, save

Curve = Mapping[float, float]


def plot_pruned_accuracy(
    panels: Mapping[str, Mapping[str, Curve]],
    path: str | Path,
    *,
    title: str = "",
    bands: Mapping[str, Mapping[str, Mapping[float, tuple[float, float]]]] | None = None,
) -> Path:
    """One panel per weight kind, one line per config: accuracy right after pruning against sparsity (%).

    ``panels`` maps kind → config label (its swept values, the legend text) → {sparsity: accuracy};
    ``bands`` (optional, same keys) → {sparsity: (low, high)}, a 95 % band over seeds shaded where known.
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 3.6), sharey=True, layout="constrained"
    )
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, (kind, cells) in zip(axes, panels.items()):
        for cell, curve in sorted(cells.items()):
            xs = sorted(curve)
            (line,) = ax.plot([100 * s for s in xs], [curve[s] for s in xs], marker="o", label=cell)
            band = ((bands or {}).get(kind) or {}).get(cell)
            if band:
                low = np.array([band[s][0] for s in xs], dtype=float)
                high = np.array([band[s][1] for s in xs], dtype=float)
                low, high = clip_band(low, high, ACCURACY_LIMITS)
                known = np.isfinite(low) & np.isfinite(high)
                xs_pct = [100 * s for s in xs]
                ax.fill_between(xs_pct, low, high, where=known, color=line.get_color(), alpha=0.2, lw=0)
        ax.set_title(f"pruned weights: {kind}")
        ax.set_xlabel("sparsity p (%)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy right after pruning")
    axes[0].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return save(fig, path)


def plot_recovery_curves(
    panels: Mapping[str, Mapping[float, list[float]]], path: str | Path, *, title: str = ""
) -> Path:
    """One panel per weight kind, one line per sparsity: accuracy against retraining epoch (0 = pruned).

    ``panels`` maps kind → sparsity → accuracies by epoch.
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 3.6), sharey=True, layout="constrained"
    )
    axes = [axes] if len(panels) == 1 else list(axes)
    cmap = plt.get_cmap("viridis")
    for ax, (kind, curves) in zip(axes, panels.items()):
        levels = sorted(curves)
        for i, sparsity in enumerate(levels):
            accs = curves[sparsity]
            color = cmap(i / max(len(levels) - 1, 1))
            ax.plot(range(len(accs)), accs, color=color, marker=".", label=f"{100 * sparsity:g} %")
        ax.set_title(f"pruned weights: {kind}")
        ax.set_xlabel("retraining epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy")
    axes[-1].legend(fontsize="x-small", ncol=2)
    if title:
        fig.suptitle(title)
    return save(fig, path)
