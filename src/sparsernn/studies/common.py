"""Pieces every protocol shares: data loaders, the model, dense training, checkpoint artifacts."""

from __future__ import annotations

from dataclasses import dataclass

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


def train_dense(
    config: RunConfig, model: torch.nn.Module, loaders: Loaders, recorder: Recorder, *, phase: str = "dense"
) -> list[dict]:
    """Train ``model`` for ``config.train.epochs`` epochs, logging each epoch under ``phase``."""

    def log(epoch: int, metrics: dict[str, float]) -> None:
        values = {k: v for k, v in metrics.items() if k != "epoch"}
        recorder.log(values, phase=phase, epoch=epoch)

    return fit(
        model,
        loaders.train,
        optimizer_for(config, model),
        epochs=config.train.epochs,
        eval_batches=loaders.test,
        clip=config.train.clip,
        callbacks=[log],
        progress=recorder.progress,
        desc=phase,
    )


def save_model(recorder: Recorder, model: SequenceClassifier, config: RunConfig) -> None:
    """Attach the model (weights + masks + constructor config, safetensors) as ``model.safetensors``."""
    recorder.add_file("model.safetensors", checkpoint_bytes(model, {"run": config.model_dump(mode="json")}))
