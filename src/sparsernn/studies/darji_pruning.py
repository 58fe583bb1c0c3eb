"""Protocol ``darji_pruning``: the pruning study of Darji (2021) on Reber-grammar strings.

Train a base classifier (3 × 50 units in the original), then for each weight kind (both, ih, hh)
and each sparsity p: reload the base model, prune with one magnitude threshold (the p-th
percentile of |w| pooled over the selected weights of all layers, ``scope="global"``), evaluate
(retraining epoch 0), retrain with a fresh Adam and frozen masks, and evaluate after every epoch.
One run covers one cell and seed; the base model is trained once per run and reused for all 30
(kind, p) pairs.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field, field_validator

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.studies.common import Loaders, make_loaders, make_model, save_model, train
from sparsernn.studies.config import RunConfig, Section
from sparsernn.studies.protocols import Protocol
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate

DEFAULT_SPARSITIES = tuple(round(0.1 * k, 1) for k in range(1, 11))


class DarjiPruningParams(Section):
    """Weight kinds, sparsity levels (fractions removed), retraining epochs, recovery tolerance."""

    kinds: list[Literal["both", "ih", "hh"]] = Field(
        default_factory=lambda: ["both", "ih", "hh"], min_length=1
    )
    sparsities: list[float] = Field(default_factory=lambda: list(DEFAULT_SPARSITIES), min_length=1)
    scope: Literal["global", "layer"] = "global"
    recovery_epochs: int = Field(default=10, ge=0)
    tolerance: float = Field(default=0.01, ge=0.0, le=1.0)
    save_model: bool = True

    @field_validator("sparsities")
    @classmethod
    def _in_range(cls, values: list[float]) -> list[float]:
        if any(not 0.0 <= s <= 1.0 for s in values):
            raise ValueError("every sparsity must lie in [0, 1] (a fraction, e.g. 0.8 for 80 %)")
        return values


def _prune_and_recover(
    config: RunConfig,
    params: DarjiPruningParams,
    base_state: dict[str, Any],
    loaders: Loaders,
    kind: str,
    sparsity: float,
    recorder: Recorder,
) -> list[float]:
    """Accuracy right after pruning (index 0) and after each retraining epoch."""
    model = make_model(config, loaders.splits)
    model.load_state_dict(base_state)
    prune.apply(model, prune.magnitude(model, sparsity, weights=kind, scope=params.scope))
    index = {"phase": "recovery", "kind": kind, "sparsity": sparsity}
    first = evaluate(model, loaders.test)
    recorder.log({**first, "density": model.rnn.density()}, epoch=0, **index)
    history = train(config, model, loaders, recorder, epochs=params.recovery_epochs, log_as=index)
    return [first["accuracy"], *(metrics["accuracy"] for metrics in history)]


def safe_level(curves: dict[float, list[float]], reference: float, tolerance: float, *, epochs: int) -> float:
    """Highest sparsity such that it and every lower one reach ``reference − tolerance`` within ``epochs``.

    ``epochs=0`` asks for no loss right after pruning; returns 0.0 when even the lowest level fails.

    Examples
    --------
    >>> safe_level({0.1: [0.9, 0.9], 0.2: [0.5, 0.9], 0.3: [0.5, 0.6]}, 0.9, 0.01, epochs=1)
    0.2
    >>> safe_level({0.1: [0.9, 0.9], 0.2: [0.5, 0.9], 0.3: [0.5, 0.6]}, 0.9, 0.01, epochs=0)
    0.1
    """
    best = 0.0
    for sparsity in sorted(curves):
        recovered = prune.recovery_epochs(curves[sparsity], reference, tolerance=tolerance)
        if recovered is None or recovered > epochs:
            break
        best = sparsity
    return best


def run(config: RunConfig, params: DarjiPruningParams, recorder: Recorder) -> dict[str, Any]:
    """Train the base model, then prune-and-recover for every (kind, sparsity)."""
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        base = make_model(config, loaders.splits)
        train(config, base, loaders, recorder, log_as={"phase": "base"})
        base_accuracy = evaluate(base, loaders.test)["accuracy"]
        base_state = copy.deepcopy(base.state_dict())
        summary: dict[str, Any] = {"base_accuracy": base_accuracy}
        for kind in params.kinds:
            curves = {
                s: _prune_and_recover(config, params, base_state, loaders, kind, s, recorder)
                for s in params.sparsities
            }
            summary[f"safe_sparsity_{kind}"] = safe_level(curves, base_accuracy, params.tolerance, epochs=0)
            summary[f"recovered_sparsity_{kind}"] = safe_level(
                curves, base_accuracy, params.tolerance, epochs=params.recovery_epochs
            )
    if params.save_model:
        save_model(recorder, base, config)
    return summary


def _report(*args: Any) -> list[str]:
    from sparsernn.studies.darji_pruning_report import report

    return report(*args)


PROTOCOL = Protocol(name="darji_pruning", params=DarjiPruningParams, run=run, report=_report)
