"""from_torch, sparsify and sparse_modules: wrapping trained and torch-pruned modules."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.utils.prune as prune

from sparsernn.errors import ConfigError
from sparsernn.nn import SparseGRU, SparseLSTM, SparseRNN, SparseRNNBase, from_torch, sparse_modules, sparsify

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")


@pytest.mark.parametrize(
    ("module", "cls"),
    [
        (torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True, bias=False), SparseRNN),
        (torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, dropout=0.25, proj_size=2), SparseLSTM),
        (torch.nn.GRU(3, 4, num_layers=3, batch_first=True), SparseGRU),
    ],
)
def test_from_torch_copies_configuration_and_weights(module, cls):
    sparse = cls.from_torch(module)
    assert type(sparse) is cls and sparse.density() == 1.0
    for attr in (
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
    ):
        assert getattr(sparse, attr) == getattr(module, attr), attr
    assert sparse.mode == module.mode and getattr(sparse, "proj_size", 0) == getattr(module, "proj_size", 0)
    for name, p in module.named_parameters():
        assert torch.equal(getattr(sparse, name), p), name
        assert getattr(sparse, name).data_ptr() != p.data_ptr()  # a copy, not shared storage
    module.eval()
    sparse.eval()
    x = torch.randn(2, 5, 3) if module.batch_first else torch.randn(5, 2, 3)
    torch.testing.assert_close(sparse(x)[0], module(x)[0], rtol=0, atol=0)


def test_from_torch_of_a_prune_pruned_lstm():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 6, num_layers=2)
    prune.l1_unstructured(lstm, "weight_hh_l0", amount=0.5)
    prune.random_unstructured(lstm, "weight_ih_l1", amount=0.7)
    prune.l1_unstructured(lstm, "weight_ih_l1", amount=0.2)  # iterative: a PruningContainer
    x = torch.randn(5, 2, 3)
    expected = lstm(x)[0]
    state_before = {k: v.clone() for k, v in lstm.state_dict().items()}

    sparse = SparseLSTM.from_torch(lstm)

    for name in ("weight_hh_l0", "weight_ih_l1"):
        torch_mask = getattr(lstm, f"{name}_mask")
        assert torch.equal(sparse.masks[name], torch_mask.bool())
        assert torch.equal(sparse.state_dict()[name], getattr(lstm, f"{name}_orig") * torch_mask)
    assert sparse.masks["weight_ih_l0"].all() and sparse.masks["weight_hh_l1"].all()
    assert sparse.density() == pytest.approx(lstm_density(lstm))
    torch.testing.assert_close(sparse(x)[0], expected)
    # the original is untouched and still pruned by torch
    assert set(lstm.state_dict()) == set(state_before)
    for key, value in lstm.state_dict().items():
        assert torch.equal(value, state_before[key]), key
    assert hasattr(lstm, "weight_hh_l0_orig") and len(lstm._forward_pre_hooks) == 2


def lstm_density(lstm: torch.nn.LSTM) -> float:
    """Kept fraction over the weight matrices of a torch-pruned LSTM, counted from its buffers."""
    kept = total = 0
    for name in (n for n in lstm._flat_weights_names if n.startswith("weight")):
        mask = getattr(lstm, f"{name}_mask", torch.ones_like(getattr(lstm, name)))
        kept, total = kept + int(mask.sum()), total + mask.numel()
    return kept / total


def test_from_torch_of_a_sparse_module_keeps_its_masks():
    gru = SparseGRU(3, 4)
    gru.set_mask("weight_ih_l0", torch.eye(12, 3, dtype=torch.bool))
    again = SparseGRU.from_torch(gru)
    assert again is not gru and torch.equal(again.masks["weight_ih_l0"], gru.masks["weight_ih_l0"])


def test_from_torch_rejects_the_wrong_kind():
    with pytest.raises(ConfigError, match=re.escape("SparseGRU.from_torch expects a torch.nn.GRU, got LSTM")):
        SparseGRU.from_torch(torch.nn.LSTM(2, 2))
    with pytest.raises(ConfigError, match=re.escape("expected a torch.nn.RNN, LSTM or GRU, got Linear")):
        from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="call from_torch on SparseRNN"):
        SparseRNNBase.from_torch(torch.nn.GRU(2, 2))


def test_sparsify_replaces_every_recurrent_module_in_a_copy():
    torch.manual_seed(0)
    shared = torch.nn.GRU(4, 4)
    model = torch.nn.ModuleDict(
        {
            "enc": torch.nn.LSTM(3, 4),
            "stack": torch.nn.ModuleList([shared, shared, SparseRNN(4, 4)]),
            "head": torch.nn.Linear(4, 2),
        }
    )
    prune.l1_unstructured(model["enc"], "weight_ih_l0", amount=0.5)
    model["enc"](torch.randn(2, 1, 3))  # after a forward a pruned module cannot be deep-copied
    copy = sparsify(model)
    assert [name for name, _ in sparse_modules(copy)] == ["enc", "stack.0", "stack.2"]  # shared once
    assert copy["stack"][0] is copy["stack"][1]
    assert type(copy["enc"]) is SparseLSTM and copy["enc"].masks["weight_ih_l0"].float().mean() == 0.5
    assert copy["stack"][2] is not model["stack"][2]
    assert type(model["enc"]) is torch.nn.LSTM and type(model["stack"][0]) is torch.nn.GRU
    assert torch.equal(copy["head"].weight, model["head"].weight)
    assert copy["head"].weight is not model["head"].weight


def test_sparsify_of_a_bare_module_and_sparse_modules_naming():
    rnn = sparsify(torch.nn.RNN(2, 3))
    assert type(rnn) is SparseRNN
    assert [name for name, _ in sparse_modules(rnn)] == [""]
    assert list(sparse_modules(torch.nn.Linear(2, 2))) == []
