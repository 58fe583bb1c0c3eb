"""A Batch unpacks as ``x, y`` like a plain ``(inputs, targets)`` pair and keeps its attributes."""

import torch

from sparsernn.data.batch import Batch, collate


def test_batch_unpacks_as_inputs_and_targets():
    batch = collate([(torch.tensor([3, 4, 5]), 1), (torch.tensor([7]), 0)])
    x, y = batch
    assert x is batch.x and y is batch.y
    assert x.tolist() == [[3, 4, 5], [7, 0, 0]] and y.tolist() == [1, 0]
    assert batch.lengths.tolist() == [3, 1]  # still by name
    moved = batch.to("cpu")
    assert isinstance(moved, Batch) and [t.tolist() for t in moved] == [x.tolist(), y.tolist()]
