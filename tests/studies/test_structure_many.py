"""The many-model path (packed wavefront, fit_many) equals the one-by-one path on the fused modules."""

from __future__ import annotations

import copy

import networkx as nx
import numpy as np
import pytest
import torch
from torch.testing import assert_close
from torch.utils.data import DataLoader

from sparsernn.data import collate
from sparsernn.graphs import barabasi_albert, watts_strogatz
from sparsernn.nn import GraphClassifier
from sparsernn.train import fit
from sparsernn.train.many import LengthBatches, ShuffledBatches, _model_ids, clip_per_model_, fit_many
from sparsernn.train.wavefront import PackedModels, _parameter

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def graphs() -> list[nx.Graph]:
    """Deep and wide layer structures with skips, and a chain (different depths in one pack)."""
    return [barabasi_albert(14, 2, seed=1), watts_strogatz(16, 4, 1.0, seed=2), nx.path_graph(3)]


def make_models(cell: str, seed: int = 0, **kwargs) -> list[GraphClassifier]:
    torch.manual_seed(seed)
    models = [GraphClassifier.from_graph(g, cell, vocab_size=128, **kwargs).double() for g in graphs()]
    gen = torch.Generator().manual_seed(seed)
    for model in models:  # extra pruning, so masks that are not the graph's own are honoured too
        for name, mask in model.rnn.masks.items():
            model.rnn.set_mask(name, mask & (torch.rand(mask.shape, generator=gen) > 0.2))
    return models


def tokens(batch: int, steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(1, 128, (batch, steps), generator=gen)
    lengths = torch.randint(1, steps + 1, (batch,), generator=gen)
    lengths[0] = steps
    return x, lengths, torch.randint(0, 2, (batch,), generator=gen)


def grads_by_model(packed: PackedModels, models: list) -> list[dict[str, torch.Tensor]]:
    """The packed gradients scattered back to model parameter shapes."""
    out = [{} for _ in models]
    for k, name, key, dst, src in packed.plan.maps:
        value, _ = _parameter(models[k], name)
        grad = out[k].setdefault(name, torch.zeros_like(value))
        grad.view(-1)[src] = packed.packed[key].grad.view(-1)[dst]
    return out


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("gate_masks", "readout"), [("blocked", "last"), ("interleaved", "last_valid")])
def test_packed_forward_and_gradients_equal_the_modules(cell, gate_masks, readout):
    models = make_models(cell, gate_masks=gate_masks, readout=readout)
    packed = PackedModels(models)
    x, lengths, y = tokens(5, 7, seed=1)
    logits = packed(x, lengths)
    for k, model in enumerate(models):
        assert_close(logits[k], model(x, lengths), rtol=1e-12, atol=1e-12)
    sum(torch.nn.functional.cross_entropy(logits[k], y) for k in range(len(models))).backward()
    packed.mask_gradients_()
    for model in models:
        torch.nn.functional.cross_entropy(model(x, lengths), y).backward()
    for model, grads in zip(models, grads_by_model(packed, models)):
        for name, param in model.named_parameters():
            assert_close(grads.get(name, torch.zeros_like(param)), param.grad, rtol=1e-10, atol=1e-12)
    with torch.no_grad():  # the evaluation path (no saved state) gives the same logits
        assert_close(packed(x, lengths), logits.detach())


def test_every_kept_parameter_entry_is_packed_exactly_once():
    models = make_models("gru")
    packed = PackedModels(models)
    seen: dict[tuple[int, str], list] = {}
    for k, name, key, dst, src in packed.plan.maps:
        _, keep = _parameter(models[k], name)
        # entries packed beside kept ones (same block column) are masked out in the packed tensor
        assert torch.equal(packed._mask(key).view(-1)[dst], keep.reshape(-1)[src].double())
        seen.setdefault((k, name), []).append(src)
    for k, model in enumerate(models):
        for name, _ in model.named_parameters():
            _, keep = _parameter(model, name)
            src = np.concatenate(seen.get((k, name), [np.array([], dtype=np.int64)]))
            assert len(src) == len(set(src.tolist()))
            assert set(src.tolist()) >= set(torch.nonzero(keep.reshape(-1)).flatten().tolist()), name
    restored = [copy.deepcopy(m) for m in models]
    for m in restored:
        for p in m.parameters():
            p.data.fill_(7.0)
        m.rnn.apply(lambda mod: mod.apply_masks_() if hasattr(mod, "apply_masks_") else None)
    packed.store_into(restored)
    for a, b in zip(models, restored):
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_per_model_clipping_equals_clip_grad_norm_model_by_model():
    models = make_models("lstm")
    packed = PackedModels(models)
    x, lengths, y = tokens(4, 6, seed=2)
    logits = packed(x, lengths)
    (100 * sum(torch.nn.functional.cross_entropy(logits[k], y) for k in range(3))).backward()
    packed.mask_gradients_()
    norms = clip_per_model_(packed, 0.5, _model_ids(packed))
    for k, (model, grads) in enumerate(zip(models, grads_by_model(packed, models))):
        loss = 100 * torch.nn.functional.cross_entropy(model(x, lengths), y)
        loss.backward()
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        assert float(norms[k]) == pytest.approx(float(total), rel=1e-10)
        for name, param in model.named_parameters():
            assert_close(grads.get(name, torch.zeros_like(param)), param.grad, rtol=1e-9, atol=1e-12)


def loader(seed: int) -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    data = [
        (torch.randint(1, 128, (int(n),), generator=gen), i % 2)
        for i, n in enumerate(torch.randint(3, 9, (24,), generator=gen))
    ]
    return DataLoader(data, batch_sampler=ShuffledBatches(len(data), 8, seed=seed), collate_fn=collate)


@pytest.mark.parametrize("cell", ["lstm", "rnn_relu"])
def test_fit_many_equals_training_one_by_one(cell):
    models = make_models(cell, readout="last_valid")
    alone = [copy.deepcopy(m) for m in models]
    result = fit_many(models, loader(3), epochs=2, lr=1e-2, clip=1.0, eval_batches=loader(4))
    for k, model in enumerate(alone):
        history = fit(
            model,
            loader(3),
            torch.optim.Adam(model.parameters(), lr=1e-2),
            epochs=2,
            eval_batches=loader(4),
            clip=1.0,
        )
        for ours, theirs in zip(result.histories[k], history):
            assert ours.keys() == theirs.keys()
            assert all(ours[key] == pytest.approx(theirs[key], rel=1e-9) for key in ours)
        for (name, p), q in zip(models[k].named_parameters(), model.parameters()):
            assert_close(p, q, rtol=1e-8, atol=1e-10, msg=name)
    assert result.diverged == {}


def test_a_diverging_model_does_not_disturb_the_others():
    models = make_models("rnn_tanh")
    alone = copy.deepcopy(models[0])
    with torch.no_grad():
        models[1].head.weight.fill_(float("nan"))
    result = fit_many(models, loader(3), epochs=1, lr=1e-2, clip=1.0)
    assert list(result.diverged) == [1] and "step 1 of epoch 1" in result.diverged[1]
    assert len(result.histories[1]) == 0 and len(result.histories[0]) == 1
    fit(alone, loader(3), torch.optim.Adam(alone.parameters(), lr=1e-2), epochs=1, clip=1.0)
    for p, q in zip(models[0].parameters(), alone.parameters()):
        assert_close(p, q, rtol=1e-8, atol=1e-10)


def test_length_batches_cover_every_string_once_and_group_similar_lengths():
    lengths = np.random.default_rng(0).integers(5, 40, size=103)
    sampler = LengthBatches(lengths, batch_size=8, seed=1, pool=4)
    first, second = list(sampler), list(sampler)
    for batches in (first, second):
        assert sorted(i for b in batches for i in b) == list(range(103))
        assert len(batches) == len(sampler)
    assert first != second  # a new order every epoch
    spread = np.mean([np.ptp(lengths[b]) for b in first])
    shuffled = np.mean([np.ptp(lengths[np.random.default_rng(2).permutation(103)[:8]]) for _ in range(5)])
    assert spread < shuffled / 2


def test_packed_read_out_checks_the_lengths():
    from sparsernn.errors import DataError

    packed = PackedModels(make_models("gru", readout="last_valid")[:1])
    with pytest.raises(DataError, match="lengths"):
        packed(torch.tensor([[66, 67, 68]]), torch.tensor([4]))
