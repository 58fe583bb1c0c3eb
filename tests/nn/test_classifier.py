"""SequenceClassifier: read-outs against independent references, input checks, config round trip."""

from __future__ import annotations

import json
import re

import networkx as nx
import pytest
import torch

from sparsernn.errors import ConfigError, DataError
from sparsernn.nn import GraphClassifier, SequenceClassifier, SparseLSTM

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def twin(model: SequenceClassifier, readout: str) -> SequenceClassifier:
    """The same classifier (same weights) with another read-out."""
    other = SequenceClassifier.from_config({**model.config, "readout": readout})
    other.load_state_dict(model.state_dict())
    return other


def tokens() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    lengths = torch.tensor([6, 2, 4])
    x = torch.randint(1, 20, (3, 6), generator=gen)
    x[torch.arange(6) >= lengths[:, None]] = 0  # right padding with code 0, as collate does
    return x, lengths


@pytest.mark.parametrize("cell", CELLS)
def test_last_valid_reads_each_sequence_at_its_own_end(cell):
    torch.manual_seed(0)
    model = SequenceClassifier(cell, 3, 8, num_layers=2, vocab_size=20, embedding_dim=5, readout="last_valid")
    x, lengths = tokens()
    logits = model(x, lengths)
    # Reference: each sequence alone, cut to its true length, read at its last step.
    last = twin(model, "last")
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(logits[i], last(x[i : i + 1, :n])[0])


@pytest.mark.parametrize("cell", CELLS)
def test_last_reads_the_padded_sequence_end_like_torch(cell):
    torch.manual_seed(0)
    model = SequenceClassifier(cell, 3, 8, num_layers=2, vocab_size=20, embedding_dim=5, readout="last")
    x, lengths = tokens()
    # Reference built from torch.nn pieces: embedding, a plain torch module with the same weights,
    # output at the last padded step, linear head.
    kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(cell, torch.nn.RNN)
    extra = {"nonlinearity": cell[4:]} if cell.startswith("rnn") else {}
    ref = kind(5, 8, num_layers=2, batch_first=True, **extra)
    ref.load_state_dict(model.rnn.state_dict(), strict=False)
    expected = model.head(ref(model.embedding(x))[0][:, -1])
    torch.testing.assert_close(model(x, lengths), expected)  # lengths are ignored by "last"
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("cell", CELLS)
def test_readouts_differ_when_padded_and_agree_when_not(cell):
    torch.manual_seed(0)
    model = SequenceClassifier(cell, 3, 8, vocab_size=20, embedding_dim=5, readout="last")
    valid = twin(model, "last_valid")
    x, lengths = tokens()
    padded = lengths < x.shape[1]
    a, b = model(x, lengths), valid(x, lengths)
    torch.testing.assert_close(a[~padded], b[~padded])
    assert not torch.isclose(a[padded], b[padded]).all(dim=1).any()
    full = torch.full((3,), x.shape[1])
    torch.testing.assert_close(model(x, full), valid(x, full))
    torch.testing.assert_close(valid(x), valid(x, full))  # no lengths = full length


def test_float_inputs_and_structure():
    model = SequenceClassifier("gru", 4, 16, num_layers=3, input_size=7, dropout=0.1, bias=False)
    assert model.embedding is None and isinstance(model.rnn, torch.nn.GRU)
    assert (
        model.rnn.batch_first
        and model.rnn.num_layers == 3
        and model.rnn.dropout == 0.1
        and not model.rnn.bias
    )
    assert model(torch.randn(5, 9, 7)).shape == (5, 4)


def test_token_model_has_an_embedding_of_the_given_size():
    model = SequenceClassifier("lstm", 2, 50, 3, vocab_size=128)
    assert (model.embedding.num_embeddings, model.embedding.embedding_dim) == (128, 50)
    assert isinstance(model.rnn, SparseLSTM) and model.rnn.input_size == 50
    assert (model.head.in_features, model.head.out_features) == (50, 2)


def test_config_is_json_and_rebuilds_the_same_architecture():
    model = SequenceClassifier("rnn_relu", 3, 6, 2, input_size=4, readout="last_valid", dropout=0.2)
    config = json.loads(json.dumps(model.config))
    rebuilt = SequenceClassifier.from_config(config)
    assert rebuilt.config == model.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of input_size"),
        ({"input_size": 3, "vocab_size": 10}, "give exactly one of input_size"),
        ({"input_size": 3, "readout": "mean"}, "unknown readout 'mean'; choose from last, last_valid"),
        ({"input_size": 3, "cell": "lstn"}, "unknown cell 'lstn'"),
        ({"input_size": 3, "num_classes": 0}, "num_classes must be a positive integer, got 0"),
    ],
)
def test_bad_configurations(kwargs, message):
    args = {"cell": "lstm", "num_classes": 2, "hidden_size": 4} | kwargs
    with pytest.raises(ConfigError, match=message):
        SequenceClassifier(**args)


def test_bad_inputs_give_data_errors():
    tok = SequenceClassifier("gru", 2, 4, vocab_size=10, readout="last_valid")
    flt = SequenceClassifier("gru", 2, 4, input_size=3)
    with pytest.raises(DataError, match="token input must be an integer tensor"):
        tok(torch.randn(2, 5))
    with pytest.raises(DataError, match=r"float input must have shape \(B, T, 3\), got \(2, 5, 4\)"):
        flt(torch.randn(2, 5, 4))
    x = torch.randint(0, 10, (2, 5))
    with pytest.raises(DataError, match=r"lengths must have shape \(2,\)"):
        tok(x, torch.tensor([5, 5, 5]))
    with pytest.raises(DataError, match=re.escape("lengths must lie in 1..5")):
        tok(x, torch.tensor([0, 5]))
    with pytest.raises(DataError, match=re.escape("lengths must lie in 1..5")):
        tok(x, torch.tensor([6, 5]))


@pytest.mark.parametrize("token", [10, 200, -1])
def test_tokens_outside_the_vocabulary_name_it(token):
    x = torch.tensor([[1, 2, token]])
    graph = GraphClassifier.from_graph(nx.path_graph(3), "gru", vocab_size=10)
    for model in (SequenceClassifier("gru", 2, 4, vocab_size=10), graph):
        with pytest.raises(
            DataError, match=re.escape(f"token {token} is outside the vocabulary 0..9 (vocab_size 10)")
        ):
            model(x)


def test_graph_classifier_needs_a_class():
    with pytest.raises(ConfigError, match="num_classes must be a positive integer, got 0"):
        GraphClassifier.from_graph(nx.path_graph(3), "gru", num_classes=0, vocab_size=10)
