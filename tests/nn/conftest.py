"""Shared set-up of the sparsernn.nn tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run these tiny models on one intra-op thread: on a shared 2-core machine more threads only
    contend (steps were 10x slower with 2), and results do not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
