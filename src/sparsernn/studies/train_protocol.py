"""Protocol ``train``: train a classifier, optionally prune it once and fine-tune with frozen masks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.studies.common import make_loaders, make_model, save_model, train
from sparsernn.studies.config import RunConfig, Section
from sparsernn.studies.protocols import Protocol
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate


class TrainParams(Section):
    """One-shot pruning after training: ``sparsity`` 0 means no pruning."""

    sparsity: float = Field(default=0.0, ge=0.0, le=1.0)
    weights: Literal["both", "ih", "hh"] = "both"
    scope: Literal["global", "layer"] = "global"
    finetune_epochs: int = Field(default=0, ge=0)
    save_model: bool = True


def run(config: RunConfig, params: TrainParams, recorder: Recorder) -> dict[str, Any]:
    """Train, then (if asked) prune and fine-tune; the summary holds the final test metrics."""
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        model = make_model(config, loaders.splits)
        history = train(config, model, loaders, recorder, log_as={"phase": "dense"})
        summary: dict[str, Any] = {"dense_accuracy": history[-1]["accuracy"] if history else None}
        if params.sparsity > 0:
            prune.apply(
                model, prune.magnitude(model, params.sparsity, weights=params.weights, scope=params.scope)
            )
            recorder.log(evaluate(model, loaders.test), phase="pruned", epoch=0)
            train(
                config, model, loaders, recorder, epochs=params.finetune_epochs, log_as={"phase": "finetune"}
            )
        final = evaluate(model, loaders.test)
    if params.save_model:
        save_model(recorder, model, config)
    return {
        **summary,
        "test_accuracy": final["accuracy"],
        "test_loss": final["loss"],
        "density": model.rnn.density(),
    }


PROTOCOL = Protocol(name="train", params=TrainParams, run=run)
