"""layer_expansions / layer_views on torch modules, masked modules and nested models; the text/JSON table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.utils.prune
from torch import nn

from sparsernn.analysis import EXPANSION_FIELDS, expansion, expansion_table, layer_expansions, layer_views
from sparsernn.errors import ConfigError, MaskError

GATE_ROWS = {nn.LSTM: ("i", "f", "g", "o"), nn.GRU: ("r", "z", "n"), nn.RNN: ("h",)}


def pruned(module: nn.Module, density: float, seed: int) -> nn.Module:
    """Zero a random fraction of every weight in place (a plain torch module, mask = W != 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.startswith("weight"):
                param.mul_(torch.rand(param.shape, generator=gen) < density)
    return module


class MaskedGRU(nn.GRU):
    """Stand-in for the library's SparseGRU: a torch GRU exposing ``masks`` (True = kept)."""

    def __init__(self, *args, masks: dict[str, torch.Tensor], **kwargs):
        super().__init__(*args, **kwargs)
        self._masks = masks

    @property
    def masks(self) -> dict[str, torch.Tensor]:
        return self._masks


def weight(module: nn.Module, name: str) -> np.ndarray:
    return getattr(module, name).detach().numpy().astype(np.float64)


def row(table, **keys):
    selected = table
    for key, value in keys.items():
        selected = selected[selected[key] == value]
    assert len(selected) == 1, keys
    return selected.iloc[0]


def assert_row_matches(table_row, matrix: np.ndarray, *, weighted: bool = False) -> None:
    """``matrix``: the hand-built view, magnitudes |W ⊙ M| (zero = pruned)."""
    expected = expansion(matrix, weighted=weighted).to_dict()
    got = {field: table_row[field] for field in EXPANSION_FIELDS}
    assert got == pytest.approx(expected, rel=1e-10, nan_ok=True)
    assert table_row["density"] == pytest.approx((matrix != 0).mean())


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_every_view_and_gate_matches_hand_sliced_weights(cls):
    model = pruned(cls(5, 7, num_layers=2), density=0.4, seed=0)
    table = layer_expansions(model, view=["ih", "hh", "step"], gates=["stack", "union", "per_gate"])
    gates = GATE_ROWS[cls]
    assert len(table) == 2 * 3 * (2 + len(gates))
    assert list(table.columns[:6]) == ["module", "layer", "direction", "view", "gate", "density"]
    for layer in range(2):
        ih, hh = weight(model, f"weight_ih_l{layer}"), weight(model, f"weight_hh_l{layer}")
        views = {"ih": ih, "hh": hh, "step": np.hstack([ih, hh])}
        for name, matrix in views.items():
            blocks = np.split(np.abs(matrix), len(gates))  # torch stacks gate rows: W_i | W_f | W_g | W_o
            assert_row_matches(row(table, layer=layer, view=name, gate="stack"), np.abs(matrix))
            assert_row_matches(row(table, layer=layer, view=name, gate="union"), sum(blocks))
            for gate, block in zip(gates, blocks):
                assert_row_matches(row(table, layer=layer, view=name, gate=gate), block)


def test_weighted_uses_magnitudes_and_sums_gates_in_union():
    model = pruned(nn.LSTM(4, 6), density=0.5, seed=1)
    ih = weight(model, "weight_ih_l0")
    table = layer_expansions(model, view="ih", gates=["stack", "union"], weighted=True)
    assert_row_matches(row(table, gate="stack"), np.abs(ih), weighted=True)
    assert_row_matches(row(table, gate="union"), np.abs(ih).reshape(4, 6, 4).sum(axis=0), weighted=True)
    assert table["delta_r"].isna().all()


def test_masks_attribute_is_used_instead_of_nonzero_weights():
    gen = torch.Generator().manual_seed(2)
    masks = {
        "weight_ih_l0": torch.rand(18, 3, generator=gen) < 0.5,
        "weight_hh_l0": torch.rand(18, 6, generator=gen) < 0.5,
    }
    model = MaskedGRU(3, 6, masks=masks)  # dense weights: only the masks say what is pruned
    for weighted in (False, True):
        table = layer_expansions(model, view=["ih", "hh"], weighted=weighted)
        for view in ("ih", "hh"):
            mask = masks[f"weight_{view}_l0"].numpy()
            got = row(table, view=view)
            assert got["n_edges"] == mask.sum()
            magnitudes = np.abs(weight(model, f"weight_{view}_l0")) * mask
            expected = expansion(magnitudes, mask=mask, weighted=weighted)
            assert got["mu0"] == pytest.approx(expected.mu0, rel=1e-10)
            assert got["gap_weighted"] == pytest.approx(expected.gap_weighted, rel=1e-10)


def test_torch_prune_mask_buffers_are_read():
    model = nn.RNN(4, 8)
    torch.nn.utils.prune.random_unstructured(model, "weight_hh_l0", amount=0.5)
    table = layer_expansions(model, view="hh")
    assert table.loc[0, "n_edges"] == int(model.weight_hh_l0_mask.sum())


def test_finds_modules_inside_a_model_and_names_them():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.GRU(3, 4, bidirectional=True)
            self.head = nn.Sequential(nn.Linear(8, 8), nn.LSTMCell(8, 2))

    table = layer_expansions(Net(), view="hh")
    keys = list(zip(table["module"], table["layer"], table["direction"]))
    assert keys == [("encoder", 0, "forward"), ("encoder", 0, "reverse"), ("head.1", 0, "forward")]
    assert table["d_left"].tolist() == [12.0, 12.0, 8.0]  # stacked gate rows: 3·4, 3·4, 4·2


def test_reverse_direction_reads_reverse_weights():
    model = pruned(nn.LSTM(3, 5, bidirectional=True), density=0.3, seed=4)
    table = layer_expansions(model, view="ih")
    assert_row_matches(row(table, direction="reverse"), np.abs(weight(model, "weight_ih_l0_reverse")))


def test_lstm_projection_shapes():
    views = layer_views(nn.LSTM(3, 6, proj_size=2), view=["hh", "step"], gates="union")
    assert [v.mask.shape for v in views] == [(6, 2), (6, 5)]


def test_views_are_numpy_masks_and_magnitudes():
    (view,) = layer_views(pruned(nn.RNN(3, 4), 0.5, seed=5), view="ih")
    assert view.mask.dtype == bool and view.weight.dtype == np.float64
    assert (view.weight[~view.mask] == 0).all() and (view.weight >= 0).all()
    assert view.density == pytest.approx(view.mask.mean())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"view": "xh"}, "unknown view 'xh'; choose from hh, ih, step"),
        ({"gates": "all"}, "unknown gate mode 'all'; choose from per_gate, stack, union"),
        ({"view": []}, "empty view list"),
    ],
)
def test_bad_options_name_the_choices(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        layer_expansions(nn.LSTM(2, 2), **kwargs)


def test_bad_models_and_masks():
    with pytest.raises(ConfigError, match="no recurrent module"):
        layer_expansions(nn.Linear(2, 2))
    bad = MaskedGRU(2, 3, masks={"weight_ih_l0": torch.ones(3, 2, dtype=torch.bool)})
    with pytest.raises(MaskError, match="weight_ih_l0"):
        layer_expansions(bad)
    model = nn.RNN(2, 2)
    with torch.no_grad():
        model.weight_ih_l0[0, 0] = float("nan")
    with pytest.raises(MaskError, match="non-finite"):
        layer_expansions(model)


def test_text_table():
    model = pruned(nn.LSTM(4, 6, num_layers=2), 0.5, seed=6)
    table = layer_expansions(model, view=["ih", "hh"], weighted=True)
    lines = expansion_table(table).splitlines()
    assert len(lines) == 1 + len(table)
    assert lines[0].split() == [
        "module",
        "layer",
        "view",
        "gate",
        "density",
        "d_left",
        "d_right",
        "μ0",
        "μ̂",
        "Δ_S",
        "Δ_R",
        "λ_w",
        "ramanujan",
    ]
    first = lines[1].split()
    assert first[:4] == ["(model)", "0", "ih", "stack"]
    assert first[10] == "-"  # Δ_R is undefined for weighted graphs
    assert first[-1] == ("yes" if table.loc[0, "ramanujan"] else "no")
    assert float(first[7]) == pytest.approx(table.loc[0, "mu0"], abs=1e-3)
    bidirectional = expansion_table(layer_expansions(nn.GRU(2, 3, bidirectional=True)))
    assert bidirectional.splitlines()[0].split()[2] == "direction"


def test_json_table_round_trips():
    table = layer_expansions(pruned(nn.GRU(3, 4), 0.5, seed=7), view=["ih", "step"], weighted=True)
    rows = json.loads(expansion_table(table, fmt="json"))
    assert len(rows) == len(table)
    assert set(rows[0]) == set(table.columns)
    for record, (_, expected) in zip(rows, table.iterrows()):
        assert record["delta_r"] is None  # NaN → null
        assert record["mu0"] == pytest.approx(expected["mu0"])
        assert isinstance(record["ramanujan"], bool) and isinstance(record["n_edges"], int)
    with pytest.raises(ConfigError, match="json, text"):
        expansion_table(table, fmt="csv")
    assert not any(math.isnan(r["mu0"]) for r in rows)
