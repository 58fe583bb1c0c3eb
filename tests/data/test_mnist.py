import numpy as np
import pytest
import torch

from sparsernn.data import mnist
from sparsernn.data.idx import write_idx
from sparsernn.data.mnist import build_fashion_mnist, build_sequential_mnist, pixel_permutation
from sparsernn.errors import ConfigError, DataError

N_TRAIN, N_TEST = 12, 5


@pytest.fixture
def idx_root(tmp_path):
    """Tiny MNIST-format files: training files gzipped, test files raw."""
    rng = np.random.default_rng(1)
    data = {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(N_TRAIN) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": np.array([9, 0, 3, 3, 1], dtype=np.uint8),
    }
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", data["train_images"])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", data["train_labels"])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", data["test_images"])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", data["test_labels"])
    return tmp_path, data


def _pixels(x):
    return np.rint(x.numpy() * 255).astype(np.uint8)


def test_rows_layout_round_trips_exactly(idx_root):
    root, data = idx_root
    splits = build_sequential_mnist(seed=0, root=root)
    assert splits.train.x.shape == (N_TRAIN, 28, 28) and splits.train.x.dtype == torch.float32
    assert (splits.num_classes, splits.input_size) == (10, 28)
    np.testing.assert_array_equal(_pixels(splits.train.x), data["train_images"])
    np.testing.assert_array_equal(splits.train.x.numpy(), data["train_images"].astype(np.float32) / 255)
    assert splits.test.y.tolist() == data["test_labels"].tolist()
    x, y = splits.test[2]
    assert x.shape == (28, 28) and y == 3


def test_pixels_layout_is_row_major(idx_root):
    root, data = idx_root
    splits = build_sequential_mnist(seed=0, root=root, layout="pixels")
    assert splits.test.x.shape == (N_TEST, 784, 1) and splits.input_size == 1
    image = data["test_images"][4]
    assert _pixels(splits.test.x)[4, 28 * 5 + 7, 0] == image[5, 7]
    np.testing.assert_array_equal(_pixels(splits.test.x)[:, :, 0], data["test_images"].reshape(N_TEST, 784))


def test_fixed_permutation(idx_root):
    root, data = idx_root
    a = build_sequential_mnist(seed=0, root=root, layout="pixels", permute=True, permutation_seed=3)
    b = build_sequential_mnist(seed=9, root=root, layout="pixels", permute=True, permutation_seed=3)
    c = build_sequential_mnist(seed=0, root=root, layout="pixels", permute=True, permutation_seed=4)
    perm = pixel_permutation(784, 3)
    assert sorted(perm.tolist()) == list(range(784)) and not np.array_equal(perm, np.arange(784))
    for split, images in (("train", data["train_images"]), ("test", data["test_images"])):
        expected = images.reshape(len(images), 784)[:, perm]
        np.testing.assert_array_equal(_pixels(getattr(a, split).x)[:, :, 0], expected)
    assert torch.equal(a.train.x, b.train.x)  # the permutation does not depend on the run seed
    assert not torch.equal(a.train.x, c.train.x)
    rows = build_sequential_mnist(seed=0, root=root, layout="rows", permute=True, permutation_seed=3)
    assert torch.equal(rows.train.x.reshape(N_TRAIN, 784, 1), a.train.x)


def test_subsets_are_seeded_and_in_file_order(idx_root):
    root, data = idx_root
    a = build_sequential_mnist(seed=5, root=root, n_train=4, n_test=2)
    b = build_sequential_mnist(seed=5, root=root, n_train=4, n_test=2)
    assert len(a.train) == 4 and len(a.test) == 2
    assert torch.equal(a.train.x, b.train.x)
    flat = data["train_images"].reshape(N_TRAIN, -1)
    rows = [int(np.flatnonzero((flat == img.reshape(-1)).all(axis=1))[0]) for img in _pixels(a.train.x)]
    assert rows == sorted(rows) and a.train.y.tolist() == data["train_labels"][rows].tolist()
    with pytest.raises(ConfigError, match="n_train=13 is more than the 12"):
        build_sequential_mnist(seed=0, root=root, n_train=13)


def test_standard_normalization_uses_training_statistics(idx_root):
    root, data = idx_root
    splits = build_sequential_mnist(seed=0, root=root, normalize="standard")
    assert float(splits.train.x.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(splits.train.x.std()) == pytest.approx(1.0, abs=1e-5)
    train = data["train_images"].astype(np.float64) / 255
    expected = (data["test_images"] / 255 - train.mean()) / train.std(ddof=1)
    np.testing.assert_allclose(splits.test.x.numpy(), expected, atol=1e-5)


def test_fashion_defaults_to_the_debian_folder(idx_root, monkeypatch):
    root, data = idx_root
    monkeypatch.setattr(mnist, "FASHION_MNIST_DEBIAN_ROOT", root)
    splits = build_fashion_mnist(seed=0, n_test=3)
    assert splits.name == "fashion_mnist" and len(splits.test) == 3
    np.testing.assert_array_equal(_pixels(splits.train.x), data["train_images"])


@pytest.mark.skipif(
    not mnist.idx_files_present(mnist.FASHION_MNIST_DEBIAN_ROOT),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_files():
    splits = build_fashion_mnist(seed=0, n_train=500, n_test=200, layout="pixels")
    assert splits.train.x.shape == (500, 784, 1) and len(splits.test) == 200
    assert float(splits.train.x.min()) >= 0.0 and float(splits.train.x.max()) <= 1.0
    assert set(splits.train.y.tolist()) == set(range(10))


def _replace(root, name, array):
    for stale in (root / name, root / f"{name}.gz"):
        stale.unlink(missing_ok=True)
    write_idx(root / name, array)


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        ("t10k-labels-idx1-ubyte", np.zeros(4, np.uint8), "4 labels for the 5 images"),
        ("t10k-labels-idx1-ubyte", np.array([0, 1, 2, 10, 4], np.uint8), "label 10 out of range"),
        ("t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.int32), "expected uint8"),
        ("t10k-images-idx3-ubyte", np.zeros((5, 784), np.uint8), r"expected uint8 \(N, H, W\)"),
        ("t10k-images-idx3-ubyte", np.zeros((5, 20, 20), np.uint8), "train images are"),
    ],
)
def test_mismatched_files_raise_data_error(idx_root, name, array, message):
    root, _ = idx_root
    _replace(root, name, array)
    with pytest.raises(DataError, match=message):
        build_sequential_mnist(seed=0, root=root)


def test_missing_and_truncated_files_are_named(idx_root):
    root, _ = idx_root
    blob = (root / "t10k-images-idx3-ubyte").read_bytes()
    (root / "t10k-images-idx3-ubyte").write_bytes(blob[:-10])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: IDX data truncated"):
        build_sequential_mnist(seed=0, root=root)
    (root / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: file not found \(neither raw nor \.gz\)"):
        build_sequential_mnist(seed=0, root=root)


@pytest.mark.parametrize(
    "options",
    [
        {"layout": "columns"},
        {"normalize": "minmax"},
        {"permute": 1},
        {"n_test": 0},
        {"permutation_seed": "a"},
    ],
)
def test_bad_options(idx_root, options):
    with pytest.raises(ConfigError):
        build_sequential_mnist(seed=0, root=idx_root[0], **options)
