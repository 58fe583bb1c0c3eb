"""Pieces every protocol shares: data loaders, the model, dense training, checkpoint artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from sparsernn._seed import torch_generator
from sparsernn.data import DataSplits, build, collate
from sparsernn.nn import SequenceClassifier, checkpoint_bytes
from sparsernn.studies.config import RunConfig
from sparsernn.studies.recorder import Recorder
from sparsernn.train import fit, make_optimizer


@dataclass(frozen=True)
class Loaders:
    """Seeded loaders of one run: shuffled training batches, fixed-order test batches."""

    splits: DataSplits
    train: DataLoader
    test: DataLoader


def make_loaders(config: RunConfig) -> Loaders:
    """Build the dataset named in ``config.data`` and its loaders (shuffling seeded by ``config.seed``)."""
    splits = build(config.data.name, seed=config.seed, **config.data.options)
    train = DataLoader(
        splits.train,
        batch_size=config.data.batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=torch_generator(config.seed),
    )
    test = DataLoader(splits.test, batch_size=config.data.eval_batch_size, collate_fn=collate)
    return Loaders(splits, train, test)


def make_model(config: RunConfig, splits: DataSplits) -> SequenceClassifier:
    """The classifier described by ``config.model`` for ``splits`` (call inside ``torch_seeded``)."""
    m = config.model
    return SequenceClassifier(
        m.cell,
        num_classes=splits.num_classes,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        input_size=splits.input_size,
        vocab_size=splits.vocab_size,
        embedding_dim=m.embedding_dim,
        readout=m.readout,
        dropout=m.dropout,
    )


def optimizer_for(config: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """A fresh optimizer as ``config.train`` describes."""
    t = config.train
    return make_optimizer(
        t.optimizer, model.parameters(), lr=t.lr, weight_decay=t.weight_decay, momentum=t.momentum
    )


def train(
    config: RunConfig,
    model: torch.nn.Module,
    loaders: Loaders,
    recorder: Recorder,
    *,
    epochs: int | None = None,
    log_as: dict[str, Any] | None = None,
) -> list[dict]:
    """Train ``model`` with a fresh optimizer from ``config.train`` for ``epochs`` (default: ``config.train.epochs``).

    :func:`~sparsernn.train.fit` re-applies the masks after every step, so optimizer state that
    predates a mask cannot revive pruned weights. With ``log_as``
    (index fields such as ``{"phase": "dense"}``) the test set is evaluated after every epoch and
    each epoch is logged under that index; without it, no evaluation and nothing is logged.
    """
    optimizer = optimizer_for(config, model)

    def log(epoch: int, metrics: dict[str, float]) -> None:
        recorder.log({k: v for k, v in metrics.items() if k != "epoch"}, epoch=epoch, **(log_as or {}))

    return fit(
        model,
        loaders.train,
        optimizer,
        epochs=config.train.epochs if epochs is None else epochs,
        eval_batches=loaders.test if log_as is not None else None,
        clip=config.train.clip,
        callbacks=[log] if log_as is not None else [],
        progress=recorder.progress,
        desc=str((log_as or {}).get("phase", "train")),
    )


def save_model(recorder: Recorder, model: SequenceClassifier, config: RunConfig) -> None:
    """Attach the model (weights + masks + constructor config, safetensors) as ``model.safetensors``."""
    recorder.add_file("model.safetensors", checkpoint_bytes(model, {"run": config.model_dump(mode="json")}))
