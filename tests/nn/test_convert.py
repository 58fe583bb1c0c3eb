"""from_torch, sparsify, to_torch and sparse_modules: converting trained and torch-pruned modules in place."""

from __future__ import annotations

import copy
import re

import pytest
import torch
import torch.nn.utils.prune as prune

import sparsernn.prune as sp
from sparsernn.errors import ConfigError
from sparsernn.nn import (
    SparseGRU,
    SparseLSTM,
    SparseRNN,
    SparseRNNBase,
    from_torch,
    sparse_modules,
    sparsify,
    to_torch,
)

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")


@pytest.mark.parametrize(
    ("make", "cls"),
    [
        (
            lambda: torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True, bias=False),
            SparseRNN,
        ),
        (
            lambda: torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dropout=0.25, proj_size=2),
            SparseLSTM,
        ),
        (lambda: torch.nn.GRU(3, 4, num_layers=3, batch_first=True), SparseGRU),
    ],
)
def test_from_torch_converts_in_place_keeping_configuration_and_parameters(make, cls):
    module = make()
    reference = copy.deepcopy(module)
    params = dict(module.named_parameters())
    sparse = cls.from_torch(module)
    assert sparse is module and type(sparse) is cls and sparse.density() == 1.0
    for attr in (
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
    ):
        assert getattr(sparse, attr) == getattr(reference, attr), attr
    assert sparse.mode == reference.mode
    assert getattr(sparse, "proj_size", 0) == getattr(reference, "proj_size", 0)
    assert dict(sparse.named_parameters()) == params  # the very same Parameter objects
    reference.eval()
    sparse.eval()
    x = torch.randn(2, 5, 3) if reference.batch_first else torch.randn(5, 2, 3)
    torch.testing.assert_close(sparse(x)[0], reference(x)[0], rtol=0, atol=0)


def test_from_torch_of_a_prune_pruned_lstm_folds_the_pruning_in():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 6, num_layers=2)
    prune.l1_unstructured(lstm, "weight_hh_l0", amount=0.5)
    prune.random_unstructured(lstm, "weight_ih_l1", amount=0.7)
    prune.l1_unstructured(lstm, "weight_ih_l1", amount=0.2)  # iterative: a PruningContainer
    prune.l1_unstructured(lstm, "bias_hh_l1", amount=0.5)  # a pruned bias: folded, no mask
    x = torch.randn(5, 2, 3)
    expected = lstm(x)[0]
    density = lstm_density(lstm)
    torch_masks = {
        n: getattr(lstm, f"{n}_mask").clone() for n in ("weight_hh_l0", "weight_ih_l1", "bias_hh_l1")
    }
    folded = {n: getattr(lstm, f"{n}_orig").detach() * m for n, m in torch_masks.items()}
    orig = lstm.weight_hh_l0_orig

    sparse = SparseLSTM.from_torch(lstm)

    assert sparse is lstm and sparse.weight_hh_l0 is orig  # the optimizer's Parameter lives on
    assert (
        not any(n.endswith("_orig") for n, _ in sparse.named_parameters()) and not sparse._forward_pre_hooks
    )
    for name in ("weight_hh_l0", "weight_ih_l1"):
        assert torch.equal(sparse.masks[name], torch_masks[name].bool())
    for name, value in folded.items():
        assert torch.equal(sparse.state_dict()[name], value)
    assert sparse.masks["weight_ih_l0"].all() and sparse.masks["weight_hh_l1"].all()
    assert sparse.density() == pytest.approx(density)
    torch.testing.assert_close(sparse(x)[0], expected)


def lstm_density(lstm: torch.nn.LSTM) -> float:
    """Kept fraction over the weight matrices of a torch-pruned LSTM, counted from its buffers."""
    kept = total = 0
    for name in (n for n in lstm._flat_weights_names if n.startswith("weight")):
        mask = getattr(lstm, f"{name}_mask", torch.ones_like(getattr(lstm, name)))
        kept, total = kept + int(mask.sum()), total + mask.numel()
    return kept / total


def test_from_torch_of_a_sparse_module_returns_it_unchanged():
    gru = SparseGRU(3, 4)
    gru.set_mask("weight_ih_l0", torch.eye(12, 3, dtype=torch.bool))
    before = gru.masks["weight_ih_l0"]
    assert SparseGRU.from_torch(gru) is gru and from_torch(gru) is gru
    assert torch.equal(gru.masks["weight_ih_l0"], before)


def test_from_torch_rejects_the_wrong_kind_and_subclasses():
    with pytest.raises(ConfigError, match=re.escape("SparseGRU.from_torch expects a torch.nn.GRU, got LSTM")):
        SparseGRU.from_torch(torch.nn.LSTM(2, 2))
    with pytest.raises(ConfigError, match=re.escape("expected a torch.nn.RNN, LSTM or GRU, got Linear")):
        from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="call from_torch on SparseRNN"):
        SparseRNNBase.from_torch(torch.nn.GRU(2, 2))

    class MyGRU(torch.nn.GRU):
        pass

    mine = MyGRU(2, 2)
    with pytest.raises(ConfigError, match="MyGRU is a subclass whose own code would be lost"):
        sparsify(torch.nn.Sequential(mine))
    assert type(mine) is MyGRU
    with pytest.raises(ConfigError, match=r"Linear holds no torch\.nn\.RNN, LSTM or GRU to sparsify"):
        sparsify(torch.nn.Linear(3, 3))


def test_sparsify_converts_every_recurrent_module_in_place():
    torch.manual_seed(0)
    shared = torch.nn.GRU(4, 4)
    already = SparseRNN(4, 4)
    model = torch.nn.ModuleDict(
        {
            "enc": torch.nn.LSTM(3, 4),
            "stack": torch.nn.ModuleList([shared, shared, already]),
            "head": torch.nn.Linear(4, 2),
        }
    )
    prune.l1_unstructured(model["enc"], "weight_ih_l0", amount=0.5)
    model["enc"](torch.randn(2, 1, 3))
    params = dict(model.named_parameters())
    assert sparsify(model) is model
    assert [name for name, _ in sparse_modules(model)] == ["enc", "stack.0", "stack.2"]  # shared once
    assert model["stack"][0] is shared and model["stack"][1] is shared and model["stack"][2] is already
    assert type(model["enc"]) is SparseLSTM and model["enc"].masks["weight_ih_l0"].float().mean() == 0.5
    renamed = {n.replace("_orig", ""): p for n, p in params.items()}
    assert dict(model.named_parameters()) == renamed  # same objects, torch-prune's _orig dropped


def test_sparsify_of_a_bare_module_and_sparse_modules_naming():
    rnn = sparsify(torch.nn.RNN(2, 3))
    assert type(rnn) is SparseRNN
    assert [name for name, _ in sparse_modules(rnn)] == [""]
    assert list(sparse_modules(torch.nn.Linear(2, 2))) == []


def test_optimizer_built_before_sparsify_trains_the_converted_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.LSTM(3, 8, batch_first=True))
    head = torch.nn.Linear(8, 1)
    optimizer = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=0.05)
    ids = [id(p) for p in model.parameters()]
    sparsify(model)
    assert [id(p) for p in model.parameters()] == ids
    sp.apply(model, sp.magnitude(model, 0.5))
    x, y = torch.randn(16, 5, 3), torch.randn(16, 1)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = (head(model(x)[0][:, -1]) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    assert_state_dict_zero_where_pruned(model[0])


def assert_state_dict_zero_where_pruned(module: SparseRNNBase) -> None:
    state = module.state_dict()
    for name, mask in module.masks.items():
        assert torch.count_nonzero(state[name][~mask]) == 0, name


@pytest.mark.parametrize("make", [lambda: torch.nn.GRU(3, 4, num_layers=2), lambda: torch.nn.RNN(3, 4)])
def test_to_torch_gives_plain_modules_with_the_masks_folded_in(make):
    torch.manual_seed(0)
    model = sparsify(torch.nn.Sequential(make(), torch.nn.Identity()))
    sp.apply(model, sp.magnitude(model, 0.7))
    with torch.no_grad():  # stale values in pruned entries, as an optimizer step may leave them
        model[0].weight_hh_l0.add_(1.0)
    plain = to_torch(model)
    assert type(plain[0]) is model[0]._wraps and not any("_mask" in k for k in plain.state_dict())
    assert type(model[0]) is not model[0]._wraps  # the original is untouched
    for name, mask in model[0].masks.items():
        assert torch.count_nonzero(getattr(plain[0], name)[~mask]) == 0, name
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(plain(x)[0], model(x)[0], rtol=0, atol=1e-6)
    # the documented strict route into torch, from the model or from its state_dict
    fresh = copy.deepcopy(plain[0])
    fresh.load_state_dict(to_torch(model[0]).state_dict(), strict=True)
    stripped = {k: v for k, v in model[0].state_dict().items() if not k.endswith("_mask")}
    fresh.load_state_dict(stripped, strict=True)
    torch.testing.assert_close(fresh(x)[0], model(x)[0], rtol=0, atol=1e-6)
