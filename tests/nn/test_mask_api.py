"""The public read API of the masks: masked_names, mask(name) (no copy), effective_weight(name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import sparsernn
from sparsernn.errors import MaskError
from sparsernn.nn import SparseGRU, SparseLSTM


def test_masked_names_are_the_weights_in_torch_order():
    lstm = SparseLSTM(2, 3, num_layers=2, bidirectional=True)
    assert lstm.masked_names == tuple(n for n in lstm._flat_weights_names if n.startswith("weight_"))
    assert isinstance(lstm.masked_names, tuple) and set(lstm.masked_names) == set(lstm.masks)


def test_mask_is_the_buffer_itself_not_a_copy():
    gru = SparseGRU(2, 3)
    keep = torch.rand(9, 3) < 0.5
    gru.set_mask("weight_hh_l0", keep)
    view = gru.mask("weight_hh_l0")
    assert view.dtype == torch.bool and torch.equal(view, keep)
    assert view.data_ptr() == gru.weight_hh_l0_mask.data_ptr()
    assert gru.masks["weight_hh_l0"].data_ptr() != view.data_ptr()  # .masks copies
    with pytest.raises(
        MaskError, match="unknown mask name 'bias_hh_l0'; choose from weight_hh_l0, weight_ih_l0"
    ):
        gru.mask("bias_hh_l0")


def test_effective_weight_is_exactly_zero_where_pruned_whatever_the_parameter_holds():
    gru = SparseGRU(2, 3)
    keep = torch.rand(9, 2) < 0.5
    gru.set_mask("weight_ih_l0", keep)
    with torch.no_grad():  # what a stale optimizer step can leave between two forwards
        gru.weight_ih_l0.fill_(float("nan"))
    value = gru.effective_weight("weight_ih_l0")
    assert torch.equal(value == 0, ~keep) and value[keep].isnan().all()
    assert not value.requires_grad
    with pytest.raises(MaskError, match="unknown mask name"):
        gru.effective_weight("weight_xx_l0")


def test_no_module_reads_the_private_mask_members():
    """Other modules use the public API on sparse modules (``self._mask`` of a class of its own is fine)."""
    src = Path(sparsernn.__file__).parent
    private = re.compile(r"(?<!self)\._mask\(|(?<!self)\._masked_names\b|\b_effective\b")
    offenders = [
        str(path.relative_to(src))
        for path in sorted(src.rglob("*.py"))
        if path.name != "base.py"
        and not path.name.startswith("streaming")
        and private.search(path.read_text())
    ]
    assert offenders == []
