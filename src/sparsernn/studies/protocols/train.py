"""Protocol ``train``: train a classifier, optionally prune it once and fine-tune with frozen masks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sparsernn import prune
from sparsernn._seed import torch_seeded
from sparsernn.studies.config import MAX_EPOCHS, RunConfig
from sparsernn.studies.protocols.common import make_loaders, make_model, save_model, train
from sparsernn.studies.protocols.pruning import Criterion, PruningParams, prune_masks
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate


class TrainParams(PruningParams):
    """One-shot pruning after training by ``criterion``: ``sparsity`` 0 means no pruning."""

    sparsity: float = Field(default=0.0, ge=0.0, le=1.0)
    weights: Literal["both", "ih", "hh"] = "both"
    scope: Literal["global", "layer"] = "global"
    criterion: Criterion = "magnitude"
    finetune_epochs: int = Field(default=0, ge=0, le=MAX_EPOCHS)
    save_model: bool = True


def run(config: RunConfig, params: TrainParams, recorder: Recorder) -> dict[str, Any]:
    """Train, then (if asked) prune and fine-tune; the summary holds the final test metrics."""
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        model = make_model(config, loaders.splits)
        history = train(config, model, loaders, recorder, log_as={"phase": "dense"})
        summary: dict[str, Any] = {"dense_accuracy": history[-1]["accuracy"] if history else None}
        if params.sparsity > 0:
            masks = prune_masks(
                model,
                params.sparsity,
                criterion=params.criterion,
                weights=params.weights,
                scope=params.scope,
                seed=config.seed,
            )
            prune.apply(model, masks)
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
