"""Protocol ``iterative_pruning``: prune step by step while tracking every layer's expansion.

Train a dense classifier, then for each remaining-edge fraction q (from dense towards sparse):
prune to density q by ``criterion`` (default magnitude; monotone: kept weights are a subset of
those kept before), evaluate, fine-tune with frozen masks, evaluate again (also under input noise,
if asked), and
record the expansion of every layer view (section 4 of the design: unweighted Δ_S, Δ_R, weighted
Δ_S and gap λ_w). The first zero crossing of each Δ is the first q at which it turns negative.
With ``stop_at_crossing`` a weight matrix whose gap would turn negative keeps its last expanding
mask and is not pruned further (expansion-aware stopping).
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
from sparsernn.nn import sparse_modules
from sparsernn.studies.config import MAX_EPOCHS, RunConfig
from sparsernn.studies.protocols.common import make_loaders, make_model, save_model, train
from sparsernn.studies.protocols.pruning import Criterion, PruningParams, prune_masks
from sparsernn.studies.protocols.robustness import Robustness, noisy_test_sets
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate

MAX_LEVELS = 1_000  # pruning levels per run (each is a fine-tuning and a full evaluation)
DEFAULT_DENSITIES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)


class IterativeParams(PruningParams):
    """Levels are remaining-edge fractions q (densities), strictly decreasing, in (0, 1]; ``criterion``
    names the pruning criterion of :mod:`sparsernn.prune` (``magnitude``, ``random``, ...)."""

    densities: list[float] = Field(
        default_factory=lambda: list(DEFAULT_DENSITIES), min_length=1, max_length=MAX_LEVELS
    )
    weights: Literal["both", "ih", "hh"] = "both"
    scope: Literal["global", "layer"] = "layer"
    criterion: Criterion = "magnitude"
    finetune_epochs: int = Field(default=1, ge=0, le=MAX_EPOCHS)
    views: list[Literal["ih", "hh", "step"]] = Field(default_factory=lambda: ["ih", "hh", "step"])
    gates: list[Literal["stack", "union", "per_gate"]] = Field(default_factory=lambda: ["stack", "union"])
    stop_at_crossing: Literal["delta_s", "delta_r"] | None = None
    robustness: Robustness | None = None
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
        table = layer_expansions(model, view=params.views, gates=params.gates, weighted=weighted)
        for row in table.to_dict("records"):
            index = {k: row[k] for k in ("module", "layer", "direction", "view", "gate")}
            values = {k: row[k] for k in ("density", "d_left", "d_right", "mu0", "mu_hat", "delta_s")}
            values.update({"gap_weighted": row["gap_weighted"]} if weighted else {"delta_r": row["delta_r"]})
            clean = {k: (math.nan if v is None else float(v)) for k, v in values.items()}
            gates = row["gate"] if row["gate"] in ("stack", "union") else "per_gate"
            recorder.log(clean, phase="expansion", level=q, gates=gates, weighted=weighted, **index)


def _current_masks(model: Any) -> dict[str, Any]:
    return {
        f"{prefix}.{name}" if prefix else name: mask
        for prefix, module in sparse_modules(model)
        for name, mask in module.masks.items()
    }


def _prune_step(
    model: Any, params: IterativeParams, q: float, frozen: frozenset[str], seed: int
) -> frozenset[str]:
    """Prune to density q (respecting frozen matrices); return the frozen set after this step."""
    masks = prune_masks(
        model, 1.0 - q, criterion=params.criterion, weights=params.weights, scope=params.scope, seed=seed
    )
    if params.stop_at_crossing is not None:
        guarded = prune.guard_expansion(masks, _current_masks(model), frozen, measure=params.stop_at_crossing)
        masks, frozen = guarded.masks, guarded.frozen
    prune.apply(model, masks)
    return frozen


def run(config: RunConfig, params: IterativeParams, recorder: Recorder) -> dict[str, Any]:
    """Train dense, then prune level by level with fine-tuning, logging accuracy and expansion."""
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        noisy = noisy_test_sets(config, params.robustness, loaders.test) if params.robustness else {}
        model = make_model(config, loaders.splits)
        train(config, model, loaders, recorder, log_as={"phase": "dense"})
        dense_accuracy = evaluate(model, loaders.test)["accuracy"]  # before any level (the first may be < 1)
        accuracies, frozen = [], frozenset()
        for q in params.densities:
            if q < 1.0:
                frozen = _prune_step(model, params, q, frozen, config.seed)
            recorder.log(evaluate(model, loaders.test), phase="pruned", level=q)
            if q < 1.0 and params.finetune_epochs:
                train(config, model, loaders, recorder, epochs=params.finetune_epochs)
            final = evaluate(model, loaders.test)
            recorder.log(
                {**final, "density": model.rnn.density(), "frozen": len(frozen)}, phase="finetuned", level=q
            )
            for noise, batches in noisy.items():
                recorder.log(evaluate(model, batches), phase="noisy", level=q, noise=noise)
            accuracies.append(final["accuracy"])
            _log_expansion(model, params, q, recorder)
    if params.save_model:
        save_model(recorder, model, config)
    return {
        "dense_accuracy": dense_accuracy,
        "final_accuracy": accuracies[-1],
        "final_density": model.rnn.density(),
        "densities": list(params.densities),
        "accuracies": accuracies,
    }
