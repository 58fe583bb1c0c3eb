"""A stand-in for the ``sparsernn.nn`` modules: the ``masks`` / ``set_mask`` contract on torch RNNs."""

from __future__ import annotations

import pytest
import torch


def _masked(base: type[torch.nn.RNNBase]) -> type[torch.nn.RNNBase]:
    class Masked(base):
        """``<param>_mask`` bool buffers, ``.masks`` keyed by local name, ``.set_mask`` zeroing weights."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name, weight in list(self.named_parameters(recurse=False)):
                if name.startswith("weight_"):
                    self.register_buffer(f"{name}_mask", torch.ones_like(weight, dtype=torch.bool))

        @property
        def masks(self) -> dict[str, torch.Tensor]:
            suffix = "_mask"
            return {n[: -len(suffix)]: b for n, b in self.named_buffers(recurse=False) if n.endswith(suffix)}

        def set_mask(self, name: str, mask: torch.Tensor) -> None:
            getattr(self, f"{name}_mask").copy_(mask)
            with torch.no_grad():
                getattr(self, name).mul_(mask)

    Masked.__name__ = f"Masked{base.__name__}"
    return Masked


MASKED = {"rnn": _masked(torch.nn.RNN), "lstm": _masked(torch.nn.LSTM), "gru": _masked(torch.nn.GRU)}


class Classifier(torch.nn.Module):
    """Embedding -> recurrent layers -> linear head, like the study's models (names: ``rnn.*``)."""

    def __init__(self, rnn: torch.nn.Module, hidden: int = 6) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.rnn = rnn
        self.head = torch.nn.Linear(hidden, 2)


@pytest.fixture
def masked():
    """Masked RNN/LSTM/GRU classes by cell name."""
    return MASKED


@pytest.fixture
def classifier():
    """Build a Classifier around a recurrent module (seeded weights)."""

    def build(rnn_cls=torch.nn.LSTM, *, seed: int = 0, **kwargs) -> Classifier:
        torch.manual_seed(seed)
        kwargs = {"input_size": 4, "hidden_size": 6, "num_layers": 2, **kwargs}
        return Classifier(rnn_cls(**kwargs))

    return build


def _lopsided(n: int = 16) -> torch.nn.RNN:
    """An RNN whose W_hh holds all the smallest weights: global magnitude empties it first."""
    model = torch.nn.RNN(n, n, bias=False)
    with torch.no_grad():
        model.weight_ih_l0.uniform_(1.0, 2.0, generator=torch.Generator().manual_seed(0))
        model.weight_hh_l0.uniform_(0.0, 0.1, generator=torch.Generator().manual_seed(1))
    return model


@pytest.fixture
def lopsided():
    """``lopsided(n=16)``: the guard tests' RNN whose W_hh holds all the smallest weights."""
    return _lopsided
