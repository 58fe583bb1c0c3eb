"""Shared figure set-up: a non-interactive backend and atomic PNG writing."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

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
