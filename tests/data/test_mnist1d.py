import random
import socket

import numpy as np
import pytest
import torch
from mnist1d.data import get_dataset_args, make_dataset

from sparsernn.data.batch import collate
from sparsernn.data.mnist_1d import build_mnist1d
from sparsernn.errors import ConfigError


def _reference(n_samples, train_split, seed):
    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = n_samples, train_split, seed
    return make_dataset(args)


def test_matches_package_generator_split():
    ref = _reference(100, 0.8, 7)
    splits = build_mnist1d(seed=7, n_train=80, n_test=20)
    np.testing.assert_array_equal(splits.train.x.squeeze(-1).numpy(), ref["x"].astype(np.float32))
    np.testing.assert_array_equal(splits.test.x.squeeze(-1).numpy(), ref["x_test"].astype(np.float32))
    np.testing.assert_array_equal(splits.train.y.numpy(), ref["y"])
    np.testing.assert_array_equal(splits.test.y.numpy(), ref["y_test"])


def test_shapes_labels_and_metadata():
    splits = build_mnist1d(seed=0, n_train=13, n_test=4)  # 17: not a multiple of ten
    assert (len(splits.train), len(splits.test)) == (13, 4)
    assert (splits.name, splits.num_classes, splits.input_size, splits.vocab_size) == ("mnist1d", 10, 1, None)
    x, y = splits.train[3]
    assert x.shape == (40, 1) and x.dtype == torch.float32 and isinstance(y, int)
    assert set(splits.train.y.tolist()) <= set(range(10))
    batch = collate([splits.train[i] for i in range(5)])
    assert batch.x.shape == (5, 40, 1) and batch.lengths.tolist() == [40] * 5


def test_standardized_over_the_generated_set():
    splits = build_mnist1d(seed=3, n_train=40, n_test=10)
    x = torch.cat([splits.train.x, splits.test.x]).double()
    assert abs(float(x.mean())) < 1e-6
    assert float(x.std(unbiased=False)) == pytest.approx(1.0, abs=1e-6)


def test_same_seed_same_data_other_seed_other_data():
    a = build_mnist1d(seed=1, n_train=20, n_test=10)
    b = build_mnist1d(seed=1, n_train=20, n_test=10)
    c = build_mnist1d(seed=2, n_train=20, n_test=10)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.x, c.train.x)


def test_leaves_global_rng_untouched():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(3), random.random()
    np.random.seed(123)
    random.seed(123)
    build_mnist1d(seed=5, n_train=10, n_test=10)
    np.testing.assert_array_equal(np.random.random(3), expected_np)
    assert random.random() == expected_py


def test_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert len(build_mnist1d(seed=0, n_train=10, n_test=10).train) == 10


@pytest.mark.parametrize(
    "options",
    [{"n_train": 0}, {"n_test": -1}, {"n_train": 2.5}, {"n_test": True}, {"seed": -1}, {"seed": 2**32}],
)
def test_bad_options_raise_config_error(options):
    kwargs = {"seed": 0, "n_train": 10, "n_test": 10, **options}
    with pytest.raises(ConfigError):
        build_mnist1d(**kwargs)
