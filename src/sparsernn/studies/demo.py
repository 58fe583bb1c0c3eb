"""The demo study run by ``sparsernn demo`` / ``make demo``: small, but every step is real.

LSTM and GRU classifiers on MNIST-1D (generated offline), trained dense, then pruned
iteratively by magnitude with fine-tuning while the expansion of every layer view is tracked.
"""

from __future__ import annotations

from typing import Any

DEMO_RECIPE: dict[str, Any] = {
    "study": "demo",
    "protocol": "iterative_pruning",
    "description": "MNIST-1D, LSTM and GRU, iterative magnitude pruning with expansion tracking",
    "seeds": [0],
    "data": {"name": "mnist1d", "options": {"n_train": 4000, "n_test": 1000}, "batch_size": 32},
    "model": {"hidden_size": 64},
    "train": {"epochs": 25, "lr": 0.002},
    "params": {
        "densities": [1.0, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1, 0.07, 0.05, 0.03, 0.02],
        "finetune_epochs": 2,
    },
    "sweep": {"model.cell": ["lstm", "gru"]},
}
