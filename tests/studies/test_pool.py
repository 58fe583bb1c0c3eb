"""The process pool shared by sweeps and by protocols that split a run into jobs."""

from __future__ import annotations

import operator

import torch

from sparsernn.studies.pool import map_ordered, one_thread


def test_map_ordered_keeps_order_in_workers_and_in_process():
    items = [(-3, 1), (5, -2), (0, 7), (4, 4)]
    expected = [operator.mul(*pair) for pair in items]
    assert map_ordered(_product, items, workers=2) == expected
    assert map_ordered(_product, items) == expected
    assert map_ordered(_product, [], workers=2) == []


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def _product(pair: tuple[int, int]) -> int:
    return pair[0] * pair[1]
