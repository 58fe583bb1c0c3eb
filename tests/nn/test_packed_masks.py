"""PackedModels computes what its models compute, whatever the training loop leaves in its tensors.

Padding entries and pruned weights are masked by the packed forward itself (not by the caller's
``mask_gradients_``), ``store_into`` writes exact zeros at pruned entries, and what the packing
takes from one model for all (read-out, dtype, embedding) is checked when packing.
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
import torch.nn.functional as F

from sparsernn.errors import ConfigError
from sparsernn.nn import CELL_KINDS, GraphClassifier, PackedModels
from sparsernn.nn.wavefront import _parameter

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GRAPHS = [nx.path_graph(3), nx.cycle_graph(5), nx.Graph([(0, 1), (1, 2), (0, 2), (2, 3)])]


def make_models(cell: str, seed: int = 0) -> list[GraphClassifier]:
    """Models of different depths, widths and skips, pruned beyond their graphs' own masks."""
    torch.manual_seed(seed)
    models = [GraphClassifier.from_graph(g, cell, vocab_size=20) for g in GRAPHS]
    gen = torch.Generator().manual_seed(seed)
    for model in models:
        for name, mask in model.rnn.masks.items():
            model.rnn.set_mask(name, mask & (torch.rand(mask.shape, generator=gen) > 0.3))
    return models


def data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, 20, (4, 6), generator=gen), torch.randint(0, 2, (4,), generator=gen)


def loss(packed: PackedModels, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = packed(x)
    return F.cross_entropy(logits.transpose(1, 2), y.expand(len(logits), -1))


def assert_models_match(packed: PackedModels, models: list[GraphClassifier], x: torch.Tensor) -> None:
    """``store_into`` wrote exact zeros where pruned, and every model computes its packed logits."""
    with torch.no_grad():
        logits = packed(x)
    packed.store_into(models)
    for model in models:
        for name, layer in model.rnn.sparse_layers():
            for weight in layer.masked_names:
                stored = getattr(layer, weight).detach()[~layer.mask(weight)]
                assert torch.equal(stored, torch.zeros_like(stored)), f"{name}.{weight}"
    for k, model in enumerate(models):
        with torch.no_grad():
            torch.testing.assert_close(logits[k], model(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", sorted(CELL_KINDS))
@pytest.mark.parametrize("native", [True, False])
def test_whatever_masked_entries_hold_never_reaches_logits_gradients_or_models(cell, native):
    models = make_models(cell)
    x, y = data()
    packed = PackedModels(models, native=native)
    loss(packed, x, y).backward()
    clean = {key: p.grad.clone() for key, p in packed.packed.items()}
    with torch.no_grad():  # what a stale optimizer or a bad step may leave there
        for key, param in packed.packed.items():
            param[~packed._mask(key)] = float("nan")
    packed.zero_grad()
    loss(packed, x, y).backward()
    for key, param in packed.packed.items():
        assert torch.equal(param.grad, clean[key]), key  # zero where masked, as before elsewhere
    assert_models_match(packed, models, x)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_training_without_mask_gradients_keeps_packed_and_models_equal(cell):
    models = make_models(cell)
    x, y = data()
    packed = PackedModels(models)
    opt = torch.optim.AdamW(packed.parameters(), lr=0.05, weight_decay=0.1)
    for _ in range(3):  # no mask_gradients_()
        opt.zero_grad()
        loss(packed, x, y).backward()
        opt.step()
    assert_models_match(packed, models, x)


def test_re_pruned_models_trained_on_with_an_old_optimizer_stay_equal():
    models = make_models("gru")
    x, y = data()
    packed = PackedModels(models)
    opt = torch.optim.Adam(packed.parameters(), lr=0.05)

    def steps(n: int) -> None:
        for _ in range(n):
            opt.zero_grad()
            loss(packed, x, y).backward()
            packed.mask_gradients_()
            opt.step()

    steps(3)
    packed.store_into(models)
    for model in models:  # magnitude-prune every W_hh by half; the Adam moments predate the masks
        for _, layer in model.rnn.sparse_layers():
            w = layer.weight_hh_l0.detach().abs()
            layer.set_mask("weight_hh_l0", layer.mask("weight_hh_l0") & (w >= w.median()))
    packed.load_from(models)
    steps(2)
    assert_models_match(packed, models, x)


def test_masks_that_gain_entries_after_packing_are_refused():
    models, name = make_models("gru"), "recurrent.1.weight_hh_l0"
    models[1].rnn.set_mask(name, torch.zeros_like(models[1].rnn.masks[name]))
    packed = PackedModels(models)
    models[1].rnn.set_mask(name, torch.ones_like(models[1].rnn.masks[name]))  # regrown
    with pytest.raises(ConfigError, match=r"model 1 .*rnn\.recurrent\.1\.weight_hh_l0"):
        packed.load_from(models)


def test_every_kept_entry_is_packed_from_and_stored_into_the_same_place():
    models = make_models("lstm")
    packed = PackedModels(models)
    for k, name, key, dst, src in packed.plan.maps:
        value, keep = _parameter(models[k], name)
        kept = keep.reshape(-1)[src]
        assert packed._mask(key).view(-1)[dst].equal(kept)
        assert packed.packed[key].view(-1)[dst][kept].equal(value.detach().reshape(-1)[src][kept])


def _readouts(models: list[GraphClassifier]) -> None:
    models[1].readout = "last_valid"


def _dtypes(models: list[GraphClassifier]) -> None:
    models[2].double()


def _half_cast(models: list[GraphClassifier]) -> None:
    models[0].head.double()


def _embedding(models: list[GraphClassifier]) -> None:
    models[1].embedding.padding_idx = 0


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_readouts, "one read-out, got last, last_valid"),
        (_dtypes, "one float dtype for all parameters, got float32, float64"),
        (_half_cast, "one float dtype for all parameters, got float32, float64"),
        (_embedding, "model 1: the wavefront path needs a plain embedding"),
    ],
)
def test_what_the_packing_shares_must_agree_across_models(spoil, message):
    models = make_models("gru")
    spoil(models)
    with pytest.raises(ConfigError, match=message):
        PackedModels(models)


def test_loading_or_storing_another_number_of_models_is_refused():
    models = make_models("gru")
    packed = PackedModels(models)
    with pytest.raises(ConfigError, match="3 models were packed, got 4"):
        packed.store_into([*models, models[0]])
    with pytest.raises(ConfigError, match="3 models were packed, got 2"):
        packed.load_from(models[:2])
