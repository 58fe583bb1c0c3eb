"""Ready-made epoch callbacks for :func:`sparsernn.train.fit`.

A callback is any ``callback(epoch, metrics) -> bool | None``; returning True stops training.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch

from sparsernn.train.loop import Callback


def checkpoint(
    model: torch.nn.Module, path: str | Path, *, every: int = 1, config: dict | None = None
) -> Callback:
    """Save ``model`` (safetensors, atomically) to ``path`` after every ``every``-th epoch.

    Examples
    --------
    >>> import tempfile, pathlib, sparsernn as sr
    >>> model = sr.nn.SparseGRU(2, 3)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "last.safetensors"
    >>> save = checkpoint(model, path)
    >>> save(1, {"accuracy": 0.5}), path.exists()
    (None, True)
    """
    from sparsernn.nn import save_checkpoint  # nn imports train-free modules only; keep import local

    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")

    def save(epoch: int, metrics: dict[str, float]) -> None:
        if epoch % every == 0:
            save_checkpoint(path, model, {**(config or {}), "epoch": epoch, "metrics": metrics})

    return save


def early_stopping(
    *, patience: int, metric: str = "accuracy", mode: str = "max", min_delta: float = 0.0
) -> Callback:
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` epochs.

    Examples
    --------
    >>> stop = early_stopping(patience=2)
    >>> [stop(e, {"accuracy": a}) for e, a in enumerate([0.5, 0.6, 0.6, 0.59], start=1)]
    [False, False, False, True]
    """
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be an integer >= 1 (epochs without improvement), got {patience!r}")
    sign = 1.0 if mode == "max" else -1.0
    state = {"best": -math.inf, "stale": 0}

    def check(epoch: int, metrics: dict[str, float]) -> bool:
        if metric not in metrics:
            raise ValueError(
                f"early_stopping watches {metric!r}, which epoch {epoch} did not report (it has: "
                f"{', '.join(sorted(metrics))}); evaluate each epoch (fit's eval_batches) or name another metric"
            )
        value = sign * float(metrics[metric])
        if value > state["best"] + min_delta:
            state["best"], state["stale"] = value, 0
        else:
            state["stale"] += 1
        return state["stale"] >= patience

    return check


def log_to(sink: Callable[[dict[str, float]], object]) -> Callback:
    """Pass every epoch's metrics (with ``epoch``) to ``sink``, e.g. ``print`` or ``list.append``.

    Examples
    --------
    >>> rows = []
    >>> log_to(rows.append)(3, {"loss": 0.1})
    >>> rows
    [{'epoch': 3, 'loss': 0.1}]
    """

    def log(epoch: int, metrics: dict[str, float]) -> None:
        sink({"epoch": epoch, **{k: v for k, v in metrics.items() if k != "epoch"}})

    return log
