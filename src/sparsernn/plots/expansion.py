"""Accuracy (left axis) and spectral gaps (right axis) against the remaining-edge fraction q."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from sparsernn.plots.style import ACCURACY_LIMITS, clip_band, new_figure, save


def plot_expansion_curves(
    accuracy: Mapping[float, float],
    curves: Mapping[str, Mapping[float, float]],
    crossings: Mapping[str, float | None],
    path: str | Path,
    *,
    title: str = "",
    gap_label: str = "spectral gap Δ",
    bands: Mapping[str, Mapping[float, tuple[float, float]]] | None = None,
) -> Path:
    """The figure of the expansion study.

    Parameters
    ----------
    accuracy : mapping q → test accuracy (q = remaining-edge fraction, 1 = dense).
    curves : mapping label → (mapping q → Δ), one line per layer view and measure.
    crossings : mapping label → q of the first zero crossing (None: no crossing); drawn as vertical
        lines in the colour of the curve.
    path : where the PNG goes.
    bands : optional mapping label → (mapping q → (low, high)), the 95 % band over seeds of a curve
        (key ``"accuracy"`` for the accuracy line); shaded around the line where both ends are finite.
    """
    bands = bands or {}
    fig, ax = new_figure(7.2, 4.2)
    qs = sorted(accuracy, reverse=True)
    ax.plot(
        [100 * q for q in qs], [accuracy[q] for q in qs], color="black", marker="o", lw=2, label="accuracy"
    )
    _shade(ax, bands.get("accuracy"), "black", limits=ACCURACY_LIMITS)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([100 * q for q in qs]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.invert_xaxis()  # dense on the left, sparser to the right
    ax.set_xlabel("remaining edges q (%)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, which="both")
    right = ax.twinx()
    for i, (label, curve) in enumerate(sorted(curves.items())):
        color = f"C{i % 10}"
        xs = sorted(curve, reverse=True)
        right.plot(
            [100 * q for q in xs], [curve[q] for q in xs], color=color, ls="--", marker=".", label=label
        )
        _shade(right, bands.get(label), color)
        crossing = crossings.get(label)
        if crossing is not None:
            ax.axvline(100 * crossing, color=color, ls=":", lw=1.5)
    right.axhline(0.0, color="grey", lw=0.8)
    right.set_ylabel(gap_label)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize="x-small", loc="lower left")
    if title:
        ax.set_title(title)
    return save(fig, path)


def _shade(
    ax: Any,
    band: Mapping[float, tuple[float, float]] | None,
    color: str,
    *,
    limits: tuple[float, float] | None = None,
) -> None:
    if not band:
        return
    qs = sorted(band, reverse=True)
    low = np.array([band[q][0] for q in qs], dtype=float)
    high = np.array([band[q][1] for q in qs], dtype=float)
    low, high = clip_band(low, high, limits)
    known = np.isfinite(low) & np.isfinite(high)
    if known.any():
        ax.fill_between([100 * q for q in qs], low, high, where=known, color=color, alpha=0.15, lw=0)
