"""apply(): sets masks on the owning modules, checks everything first, refuses plain torch modules."""

from __future__ import annotations

import pytest
import torch

import sparsernn.prune as sp
from sparsernn.errors import MaskError


def test_sets_masks_and_zeroes_pruned_weights(classifier, masked):
    model = classifier(masked["lstm"])
    dense = {n: p.detach().clone() for n, p in model.named_parameters()}
    masks = sp.magnitude(model, 0.6)
    assert sp.apply(model, masks) is None
    for name, mask in masks.items():
        local = name.split(".")[-1]
        assert torch.equal(model.rnn.masks[local], mask)
        weight = dict(model.named_parameters())[name].detach()
        assert torch.equal(weight, dense[name] * mask)
    assert torch.equal(model.head.weight, dense["head.weight"])  # nothing else touched


def test_apply_then_prune_again_is_idempotent(classifier, masked):
    model = classifier(masked["gru"])
    masks = sp.magnitude(model, 0.5, scope="layer")
    sp.apply(model, masks)
    again = sp.magnitude(model, 0.5, scope="layer")
    assert all(torch.equal(again[n], masks[n]) for n in masks)


def test_subset_of_names_leaves_others_alone(classifier, masked):
    model = classifier(masked["rnn"])
    masks = sp.magnitude(model, 0.5, weights="hh")
    sp.apply(model, masks)
    assert bool(model.rnn.masks["weight_ih_l0"].all())
    assert not bool(model.rnn.masks["weight_hh_l0"].all())


def test_unknown_name_lists_the_valid_ones(classifier, masked):
    model = classifier(masked["lstm"])
    with pytest.raises(MaskError, match=r"unknown mask name 'weight_ih_l0'; valid names: rnn\.weight_ih_l0"):
        sp.apply(model, {"weight_ih_l0": torch.ones(24, 4, dtype=torch.bool)})
    with pytest.raises(MaskError, match=r"rnn\.weight_hh_l1"):
        sp.apply(model, {"head.weight": torch.ones(2, 6, dtype=torch.bool)})


@pytest.mark.parametrize(
    "mask, message",
    [
        (torch.ones(24, 4), "must be a bool tensor"),
        (torch.ones(4, 24, dtype=torch.bool), r"shape \(4, 24\); expected the weight's \(24, 4\)"),
        ([[True] * 4] * 24, "must be a bool tensor"),
    ],
)
def test_bad_masks_are_rejected(classifier, masked, mask, message):
    model = classifier(masked["lstm"])
    with pytest.raises(MaskError, match=message):
        sp.apply(model, {"rnn.weight_ih_l0": mask})


def test_nothing_is_applied_when_one_mask_is_bad(classifier, masked):
    model = classifier(masked["lstm"])
    before = model.rnn.weight_ih_l0.detach().clone()
    good = torch.zeros(24, 4, dtype=torch.bool)
    with pytest.raises(MaskError):
        sp.apply(model, {"rnn.weight_ih_l0": good, "rnn.weight_hh_l0": torch.zeros(3, 3, dtype=torch.bool)})
    assert torch.equal(model.rnn.weight_ih_l0, before)
    assert bool(model.rnn.masks["weight_ih_l0"].all())


def test_plain_torch_module_must_be_wrapped(classifier):
    model = classifier(torch.nn.GRU)
    masks = sp.magnitude(model, 0.5)
    with pytest.raises(MaskError, match=r"plain GRU .*sparsernn\.nn\.sparsify\(model\)"):
        sp.apply(model, masks)
    with pytest.raises(MaskError, match="'<model>'"):
        sp.apply(torch.nn.RNN(2, 2), {"weight_hh_l0": torch.ones(2, 2, dtype=torch.bool)})


def test_masks_must_be_a_mapping(classifier, masked):
    with pytest.raises(MaskError, match="mapping"):
        sp.apply(classifier(masked["rnn"]), [("rnn.weight_ih_l0", torch.ones(6, 4, dtype=torch.bool))])


def test_models_pruned_with_torch_prune_are_pruned_by_their_weight_names():
    import torch.nn.utils.prune as torch_prune

    import sparsernn as sr

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.LSTM(3, 6))
    torch_prune.l1_unstructured(model[0], "weight_hh_l0", amount=0.3)
    already = model[0].weight_hh_l0_mask == 0
    masks = sp.magnitude(model, 0.6)
    assert sorted(masks) == ["0.weight_hh_l0", "0.weight_ih_l0"]
    assert not masks["0.weight_hh_l0"][already].any()  # what torch pruned stays pruned
    random_masks = sp.random(model, 0.6, seed=0)
    assert not random_masks["0.weight_hh_l0"][already].any()
    # the one-liner: the names fit the converted model
    sp.apply(sr.nn.sparsify(model), sp.magnitude(model, 0.6))
    assert type(model[0]) is sr.nn.SparseLSTM
    assert model[0].sparsity() == pytest.approx(0.6, abs=0.02)
    for name, mask in masks.items():
        assert torch.equal(model[0].masks[name.split(".")[-1]], mask)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch on parametrized RNN weights
def test_a_weight_under_a_parametrization_is_pruned_by_the_weight_it_computes():
    from torch.nn.utils import parametrizations

    import sparsernn as sr

    torch.manual_seed(0)
    model = parametrizations.weight_norm(sr.nn.SparseLSTM(4, 6), "weight_hh_l0")
    weight = model.weight_hh_l0.detach()
    masks = sp.magnitude(model, 0.5, scope="layer")
    assert sorted(masks) == ["weight_hh_l0", "weight_ih_l0"]
    kept = weight.abs() >= weight.abs().flatten().kthvalue(weight.numel() // 2 + 1).values
    assert torch.equal(masks["weight_hh_l0"], kept)  # ranked by the computed weight, not its stored parts
    assert sorted(sp.random(model, 0.5, weights="hh", seed=0)) == ["weight_hh_l0"]
    sp.apply(model, masks)
    assert model.sparsity() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (torch.ones(24, 4, dtype=torch.bool).to_sparse(), "layout torch.sparse_coo"),
        (torch.ones(24, 4, dtype=torch.bool, device="meta"), "meta device"),
    ],
)
def test_sparse_and_meta_masks_are_rejected_before_anything_is_applied(classifier, masked, mask, message):
    model = classifier(masked["lstm"])
    good = torch.zeros(24, 6, dtype=torch.bool)
    with pytest.raises(MaskError, match=message):
        sp.apply(model, {"rnn.weight_hh_l0": good, "rnn.weight_ih_l0": mask})
    assert bool(model.rnn.masks["weight_hh_l0"].all())
