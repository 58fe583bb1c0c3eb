"""The packed wavefront execution lives next to the models it runs (sr.nn); train/ keeps its old paths."""

from __future__ import annotations

import importlib

import networkx as nx
import pytest
import torch

import sparsernn.nn as snn
from sparsernn.nn import CELL_KINDS, GraphClassifier, PackedModels
from sparsernn.nn.wavefront_plan import plan


@pytest.mark.parametrize("cell", sorted(CELL_KINDS))
def test_packed_models_compute_each_model(cell):
    torch.manual_seed(0)
    models = [
        GraphClassifier.from_graph(nx.Graph(e), cell, vocab_size=128)
        for e in ([(0, 1), (1, 2), (0, 2)], [(0, 1)])
    ]
    models[0].rnn.set_mask(
        "recurrent.1.weight_hh_l0", torch.zeros_like(models[0].rnn.masks["recurrent.1.weight_hh_l0"])
    )
    x = torch.tensor([[66, 84, 69, 70], [66, 69, 0, 0]])
    logits = PackedModels(models)(x)
    for k, model in enumerate(models):
        torch.testing.assert_close(logits[k], model(x), atol=1e-5, rtol=1e-5)
    assert plan(models).row_blocks == CELL_KINDS[cell].step_blocks


def test_old_training_paths_name_the_same_objects():
    assert importlib.import_module("sparsernn.train.wavefront").PackedModels is snn.PackedModels
    assert importlib.import_module("sparsernn.train.wavefront_plan").plan is plan
    kernels = importlib.import_module("sparsernn.train.wavefront_cells").KERNELS
    assert kernels is importlib.import_module("sparsernn.nn.wavefront_kernels").KERNELS
    assert set(kernels) == set(CELL_KINDS)
