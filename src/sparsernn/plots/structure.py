"""Figures of the structure study: accuracy per family and cell, correlations, predictions, importances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sparsernn.plots.style import save


def _panels(count: int, width: float = 3.6, height: float = 3.4, sharey: bool = True) -> tuple:
    fig, axes = plt.subplots(1, count, figsize=(width * count, height), sharey=sharey, layout="constrained")
    return fig, [axes] if count == 1 else list(axes)


def plot_accuracy_by_family(table: pd.DataFrame, path: str | Path) -> Path:
    """One panel per cell: a box plot of the final test accuracy per graph family, points on top.

    ``table`` has one row per trained model with columns ``cell``, ``family``, ``accuracy``.
    """
    cells = sorted(table["cell"].unique())
    families = sorted(table["family"].unique())
    fig, axes = _panels(len(cells))
    rng = np.random.default_rng(0)  # horizontal jitter of the points only
    for ax, cell in zip(axes, cells):
        mine = table[table["cell"] == cell]
        data = [mine.loc[mine["family"] == f, "accuracy"].to_numpy() for f in families]
        ax.boxplot(data, showfliers=False, widths=0.6)
        for i, values in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(values)), values, s=8, alpha=0.6, color=f"C{i - 1}")
        ax.set_xticks(range(1, len(families) + 1), [f.replace("_", "\n") for f in families], fontsize="small")
        ax.set_title(cell)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("final test accuracy")
    return save(fig, path)


def plot_correlation_heatmap(correlations: pd.DataFrame, path: str | Path) -> Path:
    """Heat map of Pearson r (rows: features, columns: cells), values written in the cells."""
    fig, ax = plt.subplots(
        figsize=(3.6 + 0.9 * correlations.shape[1], 1.2 + 0.28 * len(correlations)), layout="constrained"
    )
    image = ax.imshow(correlations.to_numpy(dtype=float), cmap="coolwarm", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(correlations.shape[1]), correlations.columns)
    ax.set_yticks(range(len(correlations)), correlations.index, fontsize="small")
    for (i, j), value in np.ndenumerate(correlations.to_numpy(dtype=float)):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize="x-small")
    fig.colorbar(image, ax=ax, label="Pearson r with accuracy")
    return save(fig, path)


def plot_predicted_vs_measured(
    panels: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray, float]]],
    path: str | Path,
    *,
    columns: int = 2,
) -> Path:
    """A grid of panels (``columns`` per row, e.g. one row per cell, one column per protocol), one colour
    per regressor: predicted against measured accuracy, with the diagonal. ``panels`` maps title →
    regressor → (measured, predicted, R²)."""
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.0 * columns, 3.4 * rows), layout="constrained", squeeze=False
    )
    for ax, (title, fits) in zip(axes.flat, panels.items()):
        values = [v for measured, predicted, _ in fits.values() for v in (*measured, *predicted)]
        lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        for i, (name, (measured, predicted, r2)) in enumerate(fits.items()):
            ax.scatter(measured, predicted, s=10, alpha=0.6, color=f"C{i}", label=f"{name} (R² {r2:.2f})")
        ax.set_title(title, fontsize="small")
        ax.set_xlabel("measured accuracy")
        ax.set_ylabel("predicted accuracy")
        ax.legend(fontsize="x-small")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    return save(fig, path)


def plot_importances(tables: Mapping[str, pd.DataFrame], path: str | Path, *, top: int = 12) -> Path:
    """One panel per cell: the ``top`` features by permutation importance (bars), impurity as dots."""
    fig, axes = _panels(len(tables), width=4.2, height=0.6 + 0.3 * top, sharey=False)
    for ax, (title, table) in zip(axes, tables.items()):
        rows = table.head(top).iloc[::-1]
        ax.barh(rows["feature"], rows["permutation"], color="C0", label="permutation (held-out R² drop)")
        ax.scatter(rows["impurity"], rows["feature"], color="C3", s=12, zorder=3, label="impurity")
        ax.set_title(title)
        ax.tick_params(axis="y", labelsize="x-small")
        ax.grid(alpha=0.3, axis="x")
    axes[0].legend(fontsize="x-small", loc="lower right")
    return save(fig, path)


def plot_r2_bars(table: pd.DataFrame, path: str | Path, *, order: Sequence[str] | None = None) -> Path:
    """Grouped bars of R² per cell (x) and regressor (colour), one panel per protocol; error bars = std.

    ``table`` columns: ``protocol``, ``cell``, ``regressor``, ``r2``, ``r2_std``.
    """
    protocols = list(order or sorted(table["protocol"].unique()))
    fig, axes = _panels(len(protocols), width=4.6)
    regressors = sorted(table["regressor"].unique())
    cells = sorted(table["cell"].unique())
    for ax, protocol in zip(axes, protocols):
        mine = table[table["protocol"] == protocol]
        for i, name in enumerate(regressors):
            rows = mine[mine["regressor"] == name].set_index("cell").reindex(cells)
            offsets = np.arange(len(cells)) + (i - (len(regressors) - 1) / 2) * 0.25
            ax.bar(offsets, rows["r2"], width=0.25, yerr=rows["r2_std"].fillna(0), label=name, color=f"C{i}")
        ax.set_xticks(range(len(cells)), cells)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_title(protocol)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("R²")
    axes[0].legend(fontsize="x-small")
    return save(fig, path)
