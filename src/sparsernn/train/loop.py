"""One small training loop: epochs of optimizer steps with clipping, evaluation, callbacks.

Everything random (initialisation, shuffling, dropout) is driven by explicit seeds: the data loader
gets its own ``torch.Generator`` and :func:`sparsernn._seed.torch_seeded` scopes the global torch RNG,
so the same seed gives bit-identical results on CPU and the caller's RNG state is left untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from sparsernn.data.batch import Batch
from sparsernn.errors import ConfigError, DataError, SparsernnError
from sparsernn.nn import apply_masks_

Callback = Callable[[int, dict[str, float]], bool | None]
"""Called after every epoch with ``(epoch, metrics)``; returning True stops training."""


class TrainingDiverged(SparsernnError, RuntimeError):
    """The loss became NaN or infinite; the run is marked failed with this message."""


def make_optimizer(
    name: str, params: Iterable[nn.Parameter], *, lr: float, weight_decay: float = 0.0, momentum: float = 0.0
) -> torch.optim.Optimizer:
    """Build ``adam``, ``adamw`` or ``sgd`` (the names a :class:`~sparsernn.studies.config.TrainConfig` allows)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}; choose from adam, adamw, sgd")


def _logits(model: nn.Module, batch: Batch) -> torch.Tensor:
    return model(batch.x, batch.lengths)  # (B, C)


def check_clip(clip: float | None) -> float | None:
    """``clip`` if it is None (no clipping) or a finite number > 0, else ConfigError: a negative
    gradient-norm limit flips every gradient (torch does not refuse it), 0 zeroes them."""
    if clip is not None and (isinstance(clip, bool) or not math.isfinite(clip) or clip <= 0):
        raise ConfigError(f"clip must be a finite number > 0 (or None: no clipping), got {clip!r}")
    return clip


def train_epoch(
    model: nn.Module,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    *,
    clip: float | None = None,
    progress: bool = False,
    desc: str = "train",
) -> float:
    """One pass of optimizer steps; returns the mean training loss. Masks are re-applied after each step."""
    check_clip(clip)
    model.train()
    total, count = 0.0, 0
    # Wrap only when shown: tqdm calls iter() on its iterable at construction, which would start (and
    # waste) an extra epoch of a DataLoader, advancing its shuffling generator.
    for batch in tqdm(batches, desc=desc, leave=False) if progress else batches:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(_logits(model, batch), batch.y)
        if not math.isfinite(loss.item()):
            raise TrainingDiverged(f"loss became {loss.item()} at step {count + 1} of {desc}")
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        apply_masks_(model)  # optimizer state older than a mask (momentum) must not revive pruned weights
        total += loss.item() * len(batch.y)
        count += len(batch.y)
    return total / max(count, 1)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """Mean cross-entropy ``loss`` and ``accuracy`` of ``model`` over ``batches``."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for batch in batches:
        logits = _logits(model, batch)
        loss_sum += nn.functional.cross_entropy(logits, batch.y, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == batch.y).sum())
        count += len(batch.y)
    if count == 0:
        raise DataError("cannot evaluate on an empty dataset")
    return {"loss": loss_sum / count, "accuracy": correct / count}


def fit(
    model: nn.Module,
    train_batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    eval_batches: Iterable[Batch] | None = None,
    clip: float | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    desc: str = "fit",
    first_epoch: int = 1,
) -> list[dict[str, Any]]:
    """Train for ``epochs`` epochs; after each, evaluate and call the callbacks.

    Returns one dict per epoch: ``epoch``, ``train_loss`` and, with ``eval_batches``, ``loss`` and
    ``accuracy`` on them. Raises :class:`TrainingDiverged` on a NaN/inf loss.

    Examples
    --------
    >>> import torch, sparsernn as sr
    >>> from torch.utils.data import DataLoader
    >>> data = [(torch.randn(5, 3), i % 2) for i in range(16)]
    >>> loader = DataLoader(data, batch_size=8, collate_fn=sr.data.collate)
    >>> model = sr.nn.SequenceClassifier("gru", num_classes=2, hidden_size=4, input_size=3)
    >>> history = sr.train.fit(model, loader, torch.optim.Adam(model.parameters()), epochs=2, eval_batches=loader)
    >>> [sorted(h) for h in history][0]
    ['accuracy', 'epoch', 'loss', 'train_loss']
    """
    check_clip(clip)
    if epochs < 0:
        raise ConfigError(f"epochs must be >= 0, got {epochs}")
    history = []
    bar = tqdm(range(first_epoch, first_epoch + epochs), desc=desc, leave=False, disable=not progress)
    for epoch in bar:
        metrics: dict[str, Any] = {"epoch": epoch}
        metrics["train_loss"] = train_epoch(model, train_batches, optimizer, clip=clip)
        if eval_batches is not None:
            metrics.update(evaluate(model, eval_batches))
            bar.set_postfix(accuracy=f"{metrics['accuracy']:.3f}")
        history.append(metrics)
        stops = [callback(epoch, metrics) for callback in callbacks]  # every one, even after a stop
        if any(stops):
            break
    return history
