"""Figures of studies (matplotlib, written to files; no screen needed)."""

from sparsernn.plots.expansion import plot_expansion_curves
from sparsernn.plots.training import plot_training_curves

__all__ = ["plot_expansion_curves", "plot_training_curves"]
