"""Train many graph-structured classifiers at once, with the result of training them one by one.

:func:`fit_many` trains K :class:`~sparsernn.nn.GraphClassifier` models (same cell kind) on the same
batches, as ``sparsernn.train.fit`` would train each of them alone with a fresh optimizer: the models
are packed (:class:`~sparsernn.nn.wavefront.PackedModels`), the loss is the sum of the K mean
losses (so each model's gradient is that of its own loss), gradient-norm clipping is applied per
model (:func:`clip_per_model_`, the formula of ``torch.nn.utils.clip_grad_norm_``), and the optimizer
(Adam, AdamW, SGD) is elementwise, so one optimizer over the packed tensors equals K optimizers. A
model whose loss becomes NaN/inf is reported as diverged and takes no further part; the others go on.

Differences to the one-by-one path are rounding only (see :mod:`sparsernn.nn.wavefront`), and
subnormal floats are flushed to zero during training (``torch.set_flush_denormal``; without it the
vanishing gradients of long LSTM chains run many times slower on x86). The flag is switched off again
afterwards.

:class:`LengthBatches` is an optional, explicitly *non-faithful* batch sampler that groups strings of
similar length: fewer padded steps per batch, but a different batch composition (and, with the
``"last"`` read-out, less padding read) than the protocol's shuffled batches.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from sparsernn._seed import numpy_rng
from sparsernn.data.batch import Batch
from sparsernn.errors import ConfigError, SparsernnError
from sparsernn.nn.graph_rnn import GraphClassifier
from sparsernn.nn.wavefront import PackedModels
from sparsernn.train.loop import check_clip, make_optimizer

ManyCallback = Callable[[int, list[dict[str, float] | None]], None]
"""Called after every epoch with ``(epoch, metrics per model)``; None for diverged models."""


@dataclass(frozen=True)
class ManyResult:
    """Per-model histories (one dict per epoch, as ``fit`` returns) and the models that diverged."""

    histories: list[list[dict[str, float]]]
    diverged: dict[int, str] = field(default_factory=dict)


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush subnormal floats to zero inside the block (where the CPU supports it), then stop.

    Examples
    --------
    >>> with flush_denormals():
    ...     tiny = torch.tensor([1e-39]) * 1.0  # subnormal in float32
    >>> tiny.item() in (0.0, 1e-39) or tiny.item()
    True
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


def _model_ids(packed: PackedModels) -> dict[str, torch.Tensor]:
    """For every packed tensor, the model owning each index of its first dimension (or column)."""
    p = packed.plan
    ids = {"head_w": torch.arange(len(p.depths)), "head_b": torch.arange(len(p.depths))}
    ids["emb"] = torch.from_numpy(p.emb_models)
    for k, bucket in enumerate(p.buckets):
        owner = torch.from_numpy(bucket.models)
        ids |= {f"w{k}": owner, f"bih{k}": owner, f"bhh{k}": owner}
    return ids


def clip_per_model_(packed: PackedModels, max_norm: float, owners: dict[str, torch.Tensor]) -> torch.Tensor:
    """Clip every model's gradient to total 2-norm ``max_norm``; return the norms before clipping.

    Same formula as ``torch.nn.utils.clip_grad_norm_`` applied to each model alone: the gradients of
    model k are scaled by ``min(1, max_norm / (norm_k + 1e-6))``. ``owners`` maps every packed
    tensor to the model of each of its rows (embedding: columns), see ``_model_ids``.

    Examples
    --------
    >>> import networkx as nx
    >>> models = [GraphClassifier.from_graph(nx.path_graph(3), "gru", vocab_size=128) for _ in range(2)]
    >>> packed = PackedModels(models)
    >>> packed(torch.tensor([[66, 67]])).pow(2).sum().mul(1e3).backward()
    >>> norms = clip_per_model_(packed, 1.0, _model_ids(packed))
    >>> after = clip_per_model_(packed, 1.0, _model_ids(packed))
    >>> norms.shape, bool((after <= 1.0 + 1e-6).all())
    (torch.Size([2]), True)
    """
    models = len(packed.plan.depths)
    squares = torch.zeros(models, dtype=torch.float64)
    for key, param in packed.packed.items():
        if param.grad is None:
            continue
        grad = param.grad.double() ** 2
        per_index = grad.sum(0) if key == "emb" else grad.reshape(grad.shape[0], -1).sum(1)
        squares.index_add_(0, owners[key], per_index)
    norms = squares.sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0).to(packed.packed["head_w"].dtype)
    for key, param in packed.packed.items():
        if param.grad is not None:
            factor = scale[owners[key]]
            param.grad.mul_(factor.view(1, -1) if key == "emb" else factor.view(-1, *[1] * (param.dim() - 1)))
    return norms


@torch.no_grad()
def evaluate_many(packed: PackedModels, batches: Iterable[Batch]) -> list[dict[str, float]]:
    """Mean cross-entropy ``loss`` and ``accuracy`` of every packed model over ``batches``.

    Examples
    --------
    >>> import networkx as nx
    >>> from sparsernn.data import collate
    >>> packed = PackedModels([GraphClassifier.from_graph(nx.path_graph(3), "lstm", vocab_size=128)])
    >>> scores = evaluate_many(packed, [collate([(torch.tensor([66, 69]), 1)])])
    >>> sorted(scores[0]), scores[0]["accuracy"] in (0.0, 1.0)
    (['accuracy', 'loss'], True)
    """
    models = len(packed.plan.depths)
    loss_sum, correct, count = (
        torch.zeros(models, dtype=torch.float64),
        torch.zeros(models, dtype=torch.long),
        0,
    )
    for batch in batches:
        logits = packed(batch.x, batch.lengths)  # (K, B, C)
        target = batch.y.expand(models, -1)
        loss_sum += F.cross_entropy(logits.transpose(1, 2), target, reduction="none").sum(1).double()
        correct += (logits.argmax(-1) == target).sum(1)
        count += len(batch.y)
    if count == 0:
        raise SparsernnError("cannot evaluate on an empty dataset")
    return [{"loss": float(loss_sum[k]) / count, "accuracy": int(correct[k]) / count} for k in range(models)]


def _train_epoch(
    packed: PackedModels,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    clip: float | None,
    alive: torch.Tensor,
    diverged: dict[int, str],
    epoch: int,
) -> torch.Tensor:
    """One pass of optimizer steps over ``batches``; returns the mean training loss of every model."""
    models = len(alive)
    owners = _model_ids(packed)
    total, count = torch.zeros(models, dtype=torch.float64), 0
    for step, batch in enumerate(batches, start=1):
        optimizer.zero_grad(set_to_none=True)
        logits = packed(batch.x, batch.lengths)  # (K, B, C)
        losses = F.cross_entropy(logits.transpose(1, 2), batch.y.expand(models, -1), reduction="none").mean(1)
        bad = alive & ~torch.isfinite(losses.detach())
        for k in torch.nonzero(bad).flatten().tolist():
            diverged[k] = f"loss became {losses[k].item()} at step {step} of epoch {epoch}"
        alive &= ~bad
        # a diverged model leaves the sum: its gradient is zero from now on, the others are unaffected
        # (the packed forward gives padding and pruned entries exactly zero gradient)
        torch.where(alive, losses, torch.zeros_like(losses)).sum().backward()
        if clip is not None:
            clip_per_model_(packed, clip, owners)
        optimizer.step()
        total += losses.detach().double() * len(batch.y)
        count += len(batch.y)
    return total / max(count, 1)


def fit_many(
    models: Sequence[GraphClassifier],
    train_batches: Iterable[Batch],
    *,
    epochs: int,
    lr: float,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    clip: float | None = None,
    eval_batches: Iterable[Batch] | None = None,
    callbacks: Sequence[ManyCallback] = (),
    block: int = 2,
    eval_every_epoch: bool = True,
) -> ManyResult:
    """Train ``models`` together, each as ``fit`` with a fresh optimizer would train it alone.

    The models (same cell kind, token inputs) are packed, trained for ``epochs`` epochs on the same
    batches, evaluated after every epoch on ``eval_batches``, and finally hold their trained
    parameters again. ``optimizer``, ``lr``, ``weight_decay``, ``momentum`` are as in
    :func:`sparsernn.train.make_optimizer`; ``clip`` is the per-model gradient-norm bound; ``block``
    is the packing block size (speed only). With ``eval_every_epoch=False`` only the last epoch is
    evaluated (evaluation does not change training, so its result is the same).

    Examples
    --------
    >>> import networkx as nx
    >>> from torch.utils.data import DataLoader
    >>> from sparsernn.data import collate
    >>> data = [(torch.randint(1, 128, (6,)), i % 2) for i in range(16)]
    >>> loader = DataLoader(data, batch_size=8, collate_fn=collate)
    >>> models = [GraphClassifier.from_graph(nx.path_graph(n), "gru", vocab_size=128) for n in (3, 4)]
    >>> result = fit_many(models, loader, epochs=2, lr=1e-2, clip=5.0, eval_batches=loader)
    >>> [len(h) for h in result.histories], sorted(result.histories[0][-1])
    ([2, 2], ['accuracy', 'epoch', 'loss', 'train_loss'])
    """
    if epochs < 0:
        raise ConfigError(f"epochs must be >= 0, got {epochs}")
    check_clip(clip)
    models = list(models)
    packed = PackedModels(models, block=block)
    opt = make_optimizer(optimizer, packed.parameters(), lr=lr, weight_decay=weight_decay, momentum=momentum)
    alive = torch.ones(len(models), dtype=torch.bool)
    histories: list[list[dict[str, float]]] = [[] for _ in models]
    diverged: dict[int, str] = {}
    with flush_denormals():
        for epoch in range(1, epochs + 1):
            packed.train()
            train_loss = _train_epoch(packed, train_batches, opt, clip, alive, diverged, epoch)
            wanted = eval_batches is not None and (eval_every_epoch or epoch == epochs)
            scores = evaluate_many(packed, eval_batches) if wanted else None
            metrics: list[dict[str, float] | None] = []
            for k in range(len(models)):
                if not alive[k]:
                    metrics.append(None)
                    continue
                entry = {"epoch": epoch, "train_loss": float(train_loss[k])} | (scores[k] if scores else {})
                histories[k].append(entry)
                metrics.append(entry)
            for callback in callbacks:
                callback(epoch, metrics)
    packed.store_into(models)
    return ManyResult(histories, diverged)


def _epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    return numpy_rng(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))


class ShuffledBatches:
    """Shuffled batches of ``size`` items, a fresh permutation per epoch from ``(seed, epoch)``.

    A DataLoader ``batch_sampler`` whose order depends only on how many epochs were *consumed*:
    creating an iterator that is never read (as progress bars do) does not advance it, so every
    training loop over it sees the same batches, epoch after epoch.

    Examples
    --------
    >>> sampler = ShuffledBatches(5, batch_size=2, seed=0)
    >>> first = list(sampler)
    >>> sorted(i for b in first for i in b), [len(b) for b in first], first != list(sampler)
    ([0, 1, 2, 3, 4], [2, 2, 1], True)
    """

    def __init__(self, size: int, batch_size: int, *, seed: int) -> None:
        if batch_size < 1 or size < 0:
            raise ConfigError(f"batch_size must be >= 1 and size >= 0, got {batch_size} and {size}")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        self.epoch += 1  # runs at the first next(), not when the iterator is made
        order = _epoch_rng(self.seed, self.epoch).permutation(self.size)
        for start in range(0, self.size, self.batch_size):
            yield order[start : start + self.batch_size].tolist()


class LengthBatches:
    """Batches of strings of similar length (NOT the protocol's batches: an explicit speed option).

    Each epoch, the indices are shuffled, cut into pools of ``pool`` batches, sorted by length
    within a pool and cut into batches, and the batches are shuffled; use as a DataLoader's
    ``batch_sampler``. Padded steps drop by about the ratio of the longest to the mean length.
    Like :class:`ShuffledBatches`, only consumed epochs advance the order.

    Examples
    --------
    >>> sampler = LengthBatches([5, 1, 4, 2, 3, 6], batch_size=2, seed=0, pool=3)
    >>> [sorted(b) for b in sampler][:1] != [], sum(len(b) for b in sampler)
    (True, 6)
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, seed: int, pool: int = 50) -> None:
        if batch_size < 1 or pool < 1:
            raise ConfigError(f"batch_size and pool must be >= 1, got {batch_size} and {pool}")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.pool, self.seed = batch_size, pool, seed
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        self.epoch += 1
        rng = _epoch_rng(self.seed, self.epoch)
        order = rng.permutation(len(self.lengths))
        span = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), span):
            chunk = order[start : start + span]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)
            ]
        for i in rng.permutation(len(batches)):
            yield batches[i]
