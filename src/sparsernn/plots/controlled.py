"""Figures of the controlled pruning study: accuracy and Δ against the remaining weights q.

Every curve is a mean over seeds with its 95 % band, given as a frame with columns ``q``, ``mean``,
``ci95_low`` and ``ci95_high`` (as :func:`sparsernn.studies.tables.seed_stats` writes them). The x
axis is logarithmic in q (%), dense on the left. Lines of one panel differ in colour, line style
and marker, so views whose values coincide stay distinguishable.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
from PIL import Image

from sparsernn._io import write_atomic
from sparsernn.plots.style import ACCURACY_LIMITS, clip_band, draw_mean_band, save

STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")
DPI = 110
Q_LABEL = "remaining weights q (%)"
LABELLED = (100, 50, 20, 10, 5, 2, 1)  # q (%) with a tick label; every level gets a tick
UNDEFINED = "Δ undefined (−∞: no expansion) for ≥ 1 seed"  # marked at the bottom of the Δ axis


@dataclass(frozen=True)
class GapPanel:
    """One panel of :func:`plot_accuracy_and_gaps`.

    Attributes
    ----------
    accuracy : frame of q, mean, ci95_low, ci95_high (accuracy as a fraction).
    gaps : label (e.g. a view) → frame of the same columns (a Δ).
    crossings : label → q where the label's Δ first crosses zero (None: never), a vertical line.
    knee : q of the accuracy knee (a black vertical line), or None.
    knee_label : the knee line's legend text.
    """

    accuracy: pd.DataFrame
    gaps: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    crossings: Mapping[str, float | None] = field(default_factory=dict)
    knee: float | None = None
    knee_label: str = "knee"


def save_small(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as a PNG of at most 256 colours (a third of the bytes; published pages stay small).

    Examples
    --------
    >>> import tempfile
    >>> fig, ax = plt.subplots()
    >>> path = save_small(fig, Path(tempfile.mkdtemp()) / "small.png")
    >>> Image.open(path).mode
    'P'
    """
    path = save(fig, path, dpi=DPI)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return write_atomic(path, buffer.getvalue())


def _q_axis(ax: plt.Axes, qs: Sequence[float]) -> None:
    """Log x axis in percent, dense (100) on the left: a tick at every level, labels at round ones."""
    ax.set_xscale("log")
    ticks = sorted({100 * float(q) for q in qs}, reverse=True)
    labelled = [t for t in ticks if any(math.isclose(t, n) for n in LABELLED)] or ticks[
        :: max(len(ticks) // 6, 1)
    ]
    ax.xaxis.set_major_locator(FixedLocator(labelled))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_locator(FixedLocator([t for t in ticks if t not in labelled]))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize="x-small")
    if ticks:
        ax.set_xlim(max(ticks) * 1.15, min(ticks) / 1.15)  # inverted: dense on the left
    ax.grid(alpha=0.3)


def _curve_style(i: int) -> dict:
    """Colour, line style and marker of the ``i``-th curve of a panel: curves that coincide stay apart."""
    return {
        "color": f"C{i % 10}",
        "ls": STYLES[i % len(STYLES)],
        "marker": MARKERS[i % len(MARKERS)],
        "ms": 4,
    }


def _offset(i: int, n: int) -> float:
    """A small multiplicative x shift for the i-th of n curves (log axis: the same width everywhere)."""
    return float(1.0 + 0.03 * (i - (n - 1) / 2))


def _mark_undefined(ax: plt.Axes, stats: pd.DataFrame, style: dict) -> Line2D | None:
    """Mark the levels where ``stats["undefined"] > 0`` (a seed's Δ is −∞ or NaN: no mean is drawn
    there) with crosses at the bottom of ``ax``; return a legend handle, or None when there is none."""
    if "undefined" not in stats.columns or not (stats["undefined"] > 0).any():
        return None
    bad = stats[stats["undefined"] > 0]
    ax.plot(
        100 * bad["q"].to_numpy(dtype=float),
        np.full(len(bad), 0.03),
        transform=ax.get_xaxis_transform(),  # x in data, y in axes fractions: the bottom edge
        ls="none",
        marker="x",
        ms=6,
        color=style.get("color", "grey"),
        clip_on=False,
    )
    return Line2D([], [], ls="none", marker="x", color="grey", label=UNDEFINED)


def _grid(rows: int, columns: int) -> tuple[plt.Figure, np.ndarray]:
    width = max(4.0 * columns, 6.5)
    return plt.subplots(rows, columns, figsize=(width, 3.0 * rows), squeeze=False, layout="constrained")


def _draw_gap_panel(ax: plt.Axes, panel: GapPanel, gap_label: str) -> list:
    """Draw one panel; return the handles of its curves (for the figure's legend)."""
    acc = panel.accuracy.sort_values("q", ascending=False)
    draw_mean_band(
        ax, acc, x="q", scale=100, label="test accuracy", limits=ACCURACY_LIMITS, color="black", lw=2
    )
    _q_axis(ax, acc["q"])
    ax.set_ylabel("accuracy", fontsize="small")
    right = ax.twinx()
    n = len(panel.gaps)
    lines, curves, undefined = [], [], None
    for i, (label, stats) in enumerate(sorted(panel.gaps.items())):
        stats = stats.sort_values("q", ascending=False).assign(q=lambda t, i=i: t["q"] * _offset(i, n))
        style = _curve_style(i)
        draw_mean_band(right, stats, x="q", scale=100, label=f"Δ of {label}", **style)
        curves.append(right.get_lines()[-1])
        undefined = _mark_undefined(right, stats, style) or undefined
        crossing = panel.crossings.get(label)
        if crossing is not None:
            x = 100 * crossing * _offset(i, n)
            lines.append(
                ax.axvline(
                    x,
                    color=style["color"],
                    ls=style["ls"],
                    lw=1,
                    label=f"{label}: Δ < 0 at {100 * crossing:g}%",
                )
            )
    if panel.knee is not None:
        lines.append(
            ax.axvline(
                100 * panel.knee,
                color="black",
                ls=(0, (1, 1)),
                lw=1.5,
                label=f"{panel.knee_label}: {100 * panel.knee:g}%",
            )
        )
    right.axhline(0.0, color="grey", lw=0.8)
    right.set_ylabel(gap_label, fontsize="small")
    ax.set_zorder(right.get_zorder() + 1)  # accuracy (the headline) above the Δ bands
    ax.patch.set_visible(False)
    if lines:
        ax.legend(handles=lines, fontsize="xx-small", loc="lower left", framealpha=0.6)
    return ax.get_lines()[:1] + curves + ([undefined] if undefined is not None else [])


def plot_accuracy_and_gaps(
    grid: Mapping[tuple[str, str], GapPanel], path: str | Path, *, title: str = ""
) -> Path:
    """A grid of panels (rows: the Δ measure, columns: e.g. cells): accuracy on the left axis, Δ of
    each view on the right axis with its zero line, crossings and the knee as vertical lines. A Δ
    frame may count, per level, the seeds whose Δ is undefined (column ``undefined``): those levels
    have no mean and are marked with crosses at the bottom of the Δ axis.

    ``grid`` maps (row name, column name) → :class:`GapPanel`; the row name labels the Δ axis.

    Examples
    --------
    >>> acc = pd.DataFrame({"q": [1.0, 0.1], "mean": [0.9, 0.8], "ci95_low": [0.85, 0.7], "ci95_high": [1.02, 0.9]})
    >>> gap = pd.DataFrame({"q": [1.0, 0.1], "mean": [2.0, -0.5], "ci95_low": [1.8, -1.0], "ci95_high": [2.2, 0.0]})
    >>> panel = GapPanel(acc, {"hh": gap}, {"hh": 0.1}, knee=0.1)
    >>> plot_accuracy_and_gaps({("Δ_S", "lstm"): panel}, "gaps.png").name  # doctest: +SKIP
    'gaps.png'
    """
    rows = list(dict.fromkeys(r for r, _ in grid))
    columns = list(dict.fromkeys(c for _, c in grid))
    fig, axes = _grid(len(rows), len(columns))
    handles: list = []
    for (row, column), panel in grid.items():
        ax = axes[rows.index(row), columns.index(column)]
        drawn = _draw_gap_panel(ax, panel, row)
        handles = drawn if len(drawn) > len(handles) else handles  # the panel with the most views
        ax.set_title(f"{column}: {row}", fontsize="small")
        ax.set_xlabel(Q_LABEL, fontsize="small")
    _hide_empty(axes, grid, rows, columns)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize="x-small")
    if title:
        fig.suptitle(title, fontsize="medium")
    return save_small(fig, path)


def _hide_empty(axes: np.ndarray, grid: Mapping, rows: list, columns: list) -> None:
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            if (row, column) not in grid:
                axes[i, j].set_visible(False)


def plot_curve_grid(
    grid: Mapping[tuple[str, str], Mapping[str, pd.DataFrame]],
    path: str | Path,
    *,
    ylabel: str = "",
    zero_line: bool = False,
    limits: tuple[float, float] | None = None,
    title: str = "",
) -> Path:
    """A grid of panels (row name, column name), one mean ± band line per label (e.g. per criterion)
    against q; levels a frame's ``undefined`` column counts (if any) are marked with crosses at the
    bottom. ``ylabel`` names the y axis (the row name when empty); ``zero_line`` draws y = 0;
    ``limits`` clips the bands (:data:`~sparsernn.plots.style.ACCURACY_LIMITS` for accuracies).

    Examples
    --------
    >>> s = pd.DataFrame({"q": [1.0, 0.1], "mean": [0.9, 0.7], "ci95_low": [0.8, 0.6], "ci95_high": [1.1, 0.8]})
    >>> plot_curve_grid({("accuracy", "gru"): {"magnitude": s}}, "acc.png").name  # doctest: +SKIP
    'acc.png'
    """
    rows = list(dict.fromkeys(r for r, _ in grid))
    columns = list(dict.fromkeys(c for _, c in grid))
    fig, axes = _grid(len(rows), len(columns))
    for (row, column), curves in grid.items():
        ax = axes[rows.index(row), columns.index(column)]
        qs: list[float] = []
        undefined = None
        for i, (label, stats) in enumerate(curves.items()):
            stats = stats.sort_values("q", ascending=False)
            style = _curve_style(i)
            shifted = stats.assign(q=stats["q"] * _offset(i, len(curves)))
            draw_mean_band(ax, shifted, x="q", scale=100, label=label, limits=limits, **style)
            undefined = _mark_undefined(ax, shifted, style) or undefined
            qs += list(stats["q"])
        _q_axis(ax, qs)
        if zero_line:
            ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_title(f"{column}", fontsize="small")
        ax.set_xlabel(Q_LABEL, fontsize="small")
        ax.set_ylabel(ylabel or row, fontsize="small")
        handles = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        ax.legend(handles=handles + ([undefined] if undefined else []), fontsize="xx-small", loc="lower left")
    _hide_empty(axes, grid, rows, columns)
    if title:
        fig.suptitle(title, fontsize="medium")
    return save_small(fig, path)


def plot_scratch(panels: Mapping[str, pd.DataFrame], path: str | Path, *, title: str = "") -> Path:
    """One panel per cell: test accuracy (mean, clipped 95 % interval as error bars) at each scratch
    density q, one marker per way of obtaining the sparse model (expander, Erdős–Rényi, pruned).

    Each frame has ``q``, ``criterion``, ``mean``, ``ci95_low``, ``ci95_high``.

    Examples
    --------
    >>> stats = pd.DataFrame({"q": [0.1, 0.1], "criterion": ["expander", "pruned"], "mean": [0.8, 0.7],
    ...                       "ci95_low": [0.75, 0.6], "ci95_high": [0.85, 0.8]})
    >>> plot_scratch({"gru": stats}, "scratch.png").name  # doctest: +SKIP
    'scratch.png'
    """
    fig, axes = _grid(1, len(panels))
    for ax, (name, stats) in zip(axes[0], panels.items(), strict=True):
        qs = sorted(stats["q"].unique(), reverse=True)
        kinds = sorted(stats["criterion"].unique())
        for i, kind in enumerate(kinds):
            mine = stats[stats["criterion"] == kind].set_index("q").reindex(qs)
            x = np.arange(len(qs)) + (i - (len(kinds) - 1) / 2) * 0.18
            mean = mine["mean"].to_numpy(dtype=float)
            low, high = clip_band(
                mine["ci95_low"].to_numpy(dtype=float),
                mine["ci95_high"].to_numpy(dtype=float),
                ACCURACY_LIMITS,
            )
            err = np.vstack([mean - low, high - mean])
            ax.errorbar(
                x,
                mean,
                yerr=np.nan_to_num(err),
                fmt=MARKERS[i % len(MARKERS)],
                capsize=3,
                color=f"C{i % 10}",
                label=kind,
            )
        ax.set_xticks(range(len(qs)), [f"{100 * q:g}" for q in qs])
        ax.set_xlabel(Q_LABEL, fontsize="small")
        ax.set_ylabel("test accuracy", fontsize="small")
        ax.set_title(name, fontsize="small")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize="xx-small")
    if title:
        fig.suptitle(title, fontsize="medium")
    return save_small(fig, path)
