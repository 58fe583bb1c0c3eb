"""Protocol ``train``: train a classifier, optionally prune it once and fine-tune with frozen masks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.nn import keep_masks
from sparsernn.studies.common import make_loaders, make_model, optimizer_for, save_model, train_dense
from sparsernn.studies.config import RunConfig, Section
from sparsernn.studies.protocols import Protocol
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate, fit


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
        history = train_dense(config, model, loaders, recorder)
        summary: dict[str, Any] = {"dense_accuracy": history[-1]["accuracy"] if history else None}
        if params.sparsity > 0:
            prune.apply(
                model, prune.magnitude(model, params.sparsity, weights=params.weights, scope=params.scope)
            )
            recorder.log(evaluate(model, loaders.test), phase="pruned", epoch=0)
            optimizer = optimizer_for(config, model)
            keep_masks(optimizer, model)
            for metrics in fit(
                model,
                loaders.train,
                optimizer,
                epochs=params.finetune_epochs,
                eval_batches=loaders.test,
                clip=config.train.clip,
                progress=recorder.progress,
                desc="finetune",
            ):
                recorder.log(
                    {k: v for k, v in metrics.items() if k != "epoch"},
                    phase="finetune",
                    epoch=metrics["epoch"],
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
