"""Protocol ``iterative_pruning``: prune step by step while tracking every layer's expansion.

Train a dense classifier, then for each remaining-edge fraction q (from dense towards sparse):
prune by magnitude to density q (monotone: kept weights are a subset of those kept before),
evaluate, fine-tune with frozen masks, evaluate again, and record the expansion of every layer view
(section 4 of the design: unweighted Δ_S, Δ_R, weighted Δ_S and gap λ_w). The first zero crossing of
each Δ is the first q at which it turns negative.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, field_validator

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.analysis import layer_expansions
from sparsernn.nn import keep_masks
from sparsernn.studies.common import make_loaders, make_model, optimizer_for, save_model, train_dense
from sparsernn.studies.config import RunConfig, Section
from sparsernn.studies.protocols import Protocol
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate, fit

DEFAULT_DENSITIES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)
MEASURES = ("delta_s", "delta_r", "delta_s_weighted", "gap_weighted")


class IterativeParams(Section):
    """Levels are remaining-edge fractions q (densities), strictly decreasing, in (0, 1]."""

    densities: list[float] = Field(default_factory=lambda: list(DEFAULT_DENSITIES), min_length=1)
    weights: Literal["both", "ih", "hh"] = "both"
    scope: Literal["global", "layer"] = "layer"
    finetune_epochs: int = Field(default=1, ge=0)
    views: list[Literal["ih", "hh", "step"]] = Field(default_factory=lambda: ["ih", "hh", "step"])
    gates: list[Literal["stack", "union", "per_gate"]] = Field(default_factory=lambda: ["stack", "union"])
    save_model: bool = True

    @field_validator("densities")
    @classmethod
    def _decreasing(cls, values: list[float]) -> list[float]:
        if any(not 0.0 < q <= 1.0 for q in values):
            raise ValueError("every density must lie in (0, 1]")
        if any(b >= a for a, b in itertools.pairwise(values)):
            raise ValueError("densities must be strictly decreasing (from dense towards sparse)")
        return values


def first_zero_crossing(densities: Sequence[float], values: Sequence[float | None]) -> float | None:
    """The first density (in the given dense → sparse order) whose value is negative, else None.

    Undefined values (None or NaN, e.g. Δ_R of a layer whose average degree fell below 1) count
    as negative: the layer has lost the structure the bound describes.

    Examples
    --------
    >>> first_zero_crossing([1.0, 0.5, 0.2, 0.1], [3.0, 0.4, -0.1, 0.2])
    0.2
    >>> first_zero_crossing([1.0, 0.5], [1.0, 2.0]) is None
    True
    """
    for q, value in zip(densities, values):
        if value is None or math.isnan(value) or value < 0:
            return q
    return None


def _log_expansion(model: Any, params: IterativeParams, q: float, recorder: Recorder) -> None:
    for weighted in (False, True):
        for view in params.views:
            for gates in params.gates:
                table = layer_expansions(model, view=view, gates=gates, weighted=weighted)
                for row in table.to_dict("records"):
                    index = {"level": q, "module": row["module"], "layer": row["layer"], "view": view}
                    index.update(gates=gates, gate=row["gate"], weighted=weighted)
                    values = {k: row[k] for k in ("density", "d_left", "d_right", "mu0", "mu_hat", "delta_s")}
                    if weighted:
                        values["gap_weighted"] = row["gap_weighted"]
                    else:
                        values["delta_r"] = row["delta_r"]
                    recorder.log(_floats(values), phase="expansion", **index)


def _floats(values: dict[str, Any]) -> dict[str, float]:
    return {k: (math.nan if v is None else float(v)) for k, v in values.items()}


def run(config: RunConfig, params: IterativeParams, recorder: Recorder) -> dict[str, Any]:
    """Train dense, then prune level by level with fine-tuning, logging accuracy and expansion."""
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        model = make_model(config, loaders.splits)
        train_dense(config, model, loaders, recorder)
        accuracies = []
        for q in params.densities:
            if q < 1.0:
                masks = prune.magnitude(model, 1.0 - q, weights=params.weights, scope=params.scope)
                prune.apply(model, masks)
            recorder.log(evaluate(model, loaders.test), phase="pruned", level=q)
            optimizer = optimizer_for(config, model)
            keep_masks(optimizer, model)
            fit(
                model,
                loaders.train,
                optimizer,
                epochs=params.finetune_epochs if q < 1.0 else 0,
                clip=config.train.clip,
            )
            final = evaluate(model, loaders.test)
            recorder.log(final, phase="finetuned", level=q)
            accuracies.append(final["accuracy"])
            _log_expansion(model, params, q, recorder)
    if params.save_model:
        save_model(recorder, model, config)
    return {
        "dense_accuracy": accuracies[0],
        "final_accuracy": accuracies[-1],
        "final_density": model.rnn.density(),
        "densities": list(params.densities),
        "accuracies": accuracies,
    }


def _report(*args: Any) -> list[str]:
    from sparsernn.studies.iterative_report import report

    return report(*args)


PROTOCOL = Protocol(name="iterative_pruning", params=IterativeParams, run=run, report=_report)
