"""The training loop: determinism, clipping, NaN detection, callbacks, masks kept."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch.utils.data import DataLoader

import sparsernn.train.callbacks as callbacks_module
import sparsernn.train.loop as loop_module
from sparsernn._seed import torch_generator, torch_seeded
from sparsernn.data import collate
from sparsernn.nn import SequenceClassifier, load_classifier
from sparsernn.train import TrainingDiverged, checkpoint, early_stopping, evaluate, fit, make_optimizer


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 7, 3, generator=g)
    y = (x[:, :, 0].sum(dim=1) > 0).long()
    return [(x[i], int(y[i])) for i in range(n)]


def _run(seed, epochs=3, **kw):
    with torch_seeded(seed):
        model = SequenceClassifier("lstm", num_classes=2, hidden_size=6, input_size=3)
        loader = DataLoader(
            _data(), batch_size=8, shuffle=True, collate_fn=collate, generator=torch_generator(seed)
        )
        history = fit(
            model,
            loader,
            make_optimizer("adam", model.parameters(), lr=0.05),
            epochs=epochs,
            eval_batches=loader,
            **kw,
        )
    return model, history


def test_same_seed_same_history_and_weights():
    (m1, h1), (m2, h2) = _run(0), _run(0)
    assert h1 == h2
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert _run(1)[1] != h1


def test_learns_a_simple_task():
    _, history = _run(0, epochs=15)
    assert history[-1]["accuracy"] > 0.8 and history[-1]["train_loss"] < history[0]["train_loss"]


def test_pruned_weights_stay_zero_through_fit():
    with torch_seeded(0):
        model = SequenceClassifier("gru", num_classes=2, hidden_size=6, input_size=3)
    mask = torch.rand(model.rnn.weight_hh_l0.shape, generator=torch.Generator().manual_seed(0)) < 0.3
    model.rnn.set_mask("weight_hh_l0", mask)
    loader = DataLoader(_data(), batch_size=8, collate_fn=collate)
    fit(
        model,
        loader,
        make_optimizer("sgd", model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1),
        epochs=2,
        clip=1.0,
    )
    assert torch.all(model.rnn.weight_hh_l0[~mask] == 0)


def test_nan_loss_raises_training_diverged():
    model = SequenceClassifier("rnn_tanh", num_classes=2, hidden_size=4, input_size=3)
    with torch.no_grad():
        model.head.weight.fill_(float("nan"))
    loader = DataLoader(_data(16), batch_size=8, collate_fn=collate)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 1"):
        fit(model, loader, make_optimizer("adam", model.parameters(), lr=0.01), epochs=1)


def test_early_stopping_stops(tmp_path):
    seen = []
    stop = early_stopping(patience=1, metric="loss", mode="min", min_delta=10.0)
    _, history = _run(0, epochs=10, callbacks=[lambda e, m: seen.append(e), stop])
    assert len(history) == 2 and seen == [1, 2]  # epoch 2 is the first without a 10-point gain: stop


def test_every_callback_runs_in_the_epoch_that_stops():
    seen = []
    stop = early_stopping(patience=1, metric="loss", mode="min", min_delta=10.0)
    _, history = _run(0, epochs=10, callbacks=[stop, lambda e, m: seen.append(e)])
    assert len(history) == 2 and seen == [1, 2]  # the callback after the one that stops still sees epoch 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"clip": -1.0},
            r"clip must be a finite number > 0 \(or None: no clipping\), got -1.0",
        ),  # flips gradients
        ({"clip": 0.0}, "clip must be a finite number > 0"),
        ({"epochs": -3}, "epochs must be >= 0, got -3"),
    ],
)
def test_bad_clip_or_epochs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _run(0, **{"epochs": 1, **kwargs})


def test_early_stopping_needs_patience_and_its_metric():
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        early_stopping(patience=0)
    stop = early_stopping(patience=2)
    with pytest.raises(
        ValueError, match="watches 'accuracy', which epoch 1 did not report \\(it has: epoch, train_loss\\)"
    ):
        stop(1, {"epoch": 1, "train_loss": 0.5})


def test_checkpoint_callback_saves_the_trained_model(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    with torch_seeded(0):
        model = SequenceClassifier("lstm", num_classes=2, hidden_size=6, input_size=3)
    loader = DataLoader(_data(), batch_size=8, collate_fn=collate)
    optimizer = make_optimizer("adam", model.parameters(), lr=0.05)
    fit(model, loader, optimizer, epochs=2, callbacks=[checkpoint(model, path, every=2)])
    loaded = load_classifier(path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; choose from adam, adamw, sgd"):
        make_optimizer("adamm", [torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def test_evaluate_on_nothing():
    model = SequenceClassifier("gru", num_classes=2, hidden_size=4, input_size=3)
    with pytest.raises(ValueError, match="empty dataset"):
        evaluate(model, [])


@pytest.mark.parametrize("module", [loop_module, callbacks_module])
def test_docstring_examples(module):
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_fit_shuffles_like_a_plain_loop_over_the_loader():
    # Regression: wrapping the loader in a disabled tqdm started an extra iterator per epoch, which
    # advanced the loader's generator, so fit() saw other batches than `for batch in loader`.
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(2))

        def forward(self, x, lengths):
            seen.append(x[:, 0, 0].clone())
            return self.w.expand(len(x), 2)

    data = _data(32)
    loader = DataLoader(data, batch_size=8, shuffle=True, collate_fn=collate, generator=torch_generator(5))
    spy = Spy()
    fit(spy, loader, torch.optim.SGD(spy.parameters(), lr=0.1), epochs=2)
    reference = DataLoader(data, batch_size=8, shuffle=True, collate_fn=collate, generator=torch_generator(5))
    expected = [b.x[:, 0, 0] for _ in range(2) for b in reference]
    assert len(seen) == len(expected) and all(torch.equal(a, b) for a, b in zip(seen, expected))
