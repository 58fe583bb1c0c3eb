import numpy as np
import pytest
import torch

from sparsernn.data.cifar import ARCHIVE_FOLDER, FILES, build_cifar10, read_cifar_records
from sparsernn.errors import ConfigError, DataError


def _records(labels, rng):
    """CIFAR-10 binary records written from the format description: label byte, then R, G, B planes."""
    images = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    blob = b"".join(bytes([label]) + image.tobytes() for label, image in zip(labels, images))
    return blob, images


@pytest.fixture
def cifar_root(tmp_path):
    rng = np.random.default_rng(2)
    images, labels = {}, {}
    for split, names in FILES.items():
        parts = []
        for k, name in enumerate(names):
            y = [(k + i) % 10 for i in range(3)]
            blob, x = _records(y, rng)
            (tmp_path / name).write_bytes(blob)
            parts.append((x, y))
        images[split] = np.concatenate([x for x, _ in parts])
        labels[split] = [label for _, y in parts for label in y]
    return tmp_path, images, labels


def _bytes(x):
    return np.rint(x.numpy() * 255).astype(np.uint8)


def test_rows_layout(cifar_root):
    root, images, labels = cifar_root
    splits = build_cifar10(seed=0, root=root)
    assert splits.train.x.shape == (15, 32, 96) and splits.test.x.shape == (3, 32, 96)
    assert (splits.num_classes, splits.input_size) == (10, 96)
    assert splits.train.y.tolist() == labels["train"] and splits.test.y.tolist() == labels["test"]
    rows = _bytes(splits.train.x)
    img = images["train"][7]
    np.testing.assert_array_equal(rows[7, 4, 0:32], img[0, 4])  # red row 4
    np.testing.assert_array_equal(rows[7, 4, 32:64], img[1, 4])  # green row 4
    np.testing.assert_array_equal(rows[7, 4, 64:96], img[2, 4])  # blue row 4


def test_pixels_layout(cifar_root):
    root, images, _ = cifar_root
    splits = build_cifar10(seed=0, root=root, layout="pixels")
    assert splits.test.x.shape == (3, 1024, 3) and splits.input_size == 3
    pixels = _bytes(splits.test.x)
    img = images["test"][1]
    r, c = 10, 21
    assert pixels[1, r * 32 + c].tolist() == [img[0, r, c], img[1, r, c], img[2, r, c]]
    np.testing.assert_array_equal(
        splits.test.x.numpy(), images["test"].reshape(3, 3, 1024).transpose(0, 2, 1) / np.float32(255)
    )


def test_nested_archive_folder_and_subsets(cifar_root):
    root, _, labels = cifar_root
    nested = root / "x" / ARCHIVE_FOLDER
    nested.mkdir(parents=True)
    for names in FILES.values():
        for name in names:
            (root / name).rename(nested / name)
    a = build_cifar10(seed=4, root=root / "x", n_train=6, n_test=2)
    b = build_cifar10(seed=4, root=root / "x", n_train=6, n_test=2)
    assert len(a.train) == 6 and len(a.test) == 2 and torch.equal(a.train.x, b.train.x)
    assert set(a.train.y.tolist()) <= set(labels["train"])


def test_standard_normalization_per_channel(cifar_root):
    root, images, _ = cifar_root
    splits = build_cifar10(seed=0, root=root, layout="pixels", normalize="standard")
    per_channel = splits.train.x.reshape(-1, 3)
    np.testing.assert_allclose(per_channel.mean(0).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(0).numpy(), 1.0, atol=1e-5)
    train = images["train"].astype(np.float64) / 255
    mean, std = train.mean(axis=(0, 2, 3)), train.std(axis=(0, 2, 3), ddof=1)
    expected = ((images["test"] / 255 - mean[:, None, None]) / std[:, None, None]).reshape(3, 3, 1024)
    np.testing.assert_allclose(splits.test.x.numpy(), expected.transpose(0, 2, 1), atol=1e-5)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "0 bytes is not a positive multiple of the 3073-byte"),
        (bytes(3073 * 2 - 1), "6145 bytes is not a positive multiple"),
        (bytes(3073) + bytes([10]) + bytes(3072), "record 1 has label 10"),
    ],
)
def test_bad_files_raise_data_error_naming_the_file(cifar_root, blob, message):
    root = cifar_root[0]
    (root / "data_batch_3.bin").write_bytes(blob)
    with pytest.raises(DataError, match=message) as info:
        build_cifar10(seed=0, root=root)
    assert "data_batch_3.bin" in str(info.value)


def test_missing_file(cifar_root):
    root = cifar_root[0]
    (root / "test_batch.bin").unlink()
    with pytest.raises(DataError, match=r"test_batch\.bin: file not found"):
        build_cifar10(seed=0, root=root)


def test_read_records_shapes(tmp_path):
    (tmp_path / "one.bin").write_bytes(bytes([4]) + bytes(range(256)) * 12)
    images, labels = read_cifar_records(tmp_path / "one.bin")
    assert images.shape == (1, 3, 32, 32) and labels.tolist() == [4]
    assert images[0, 0, 0, :4].tolist() == [0, 1, 2, 3] and int(images[0, 2, 31, 31]) == 255


@pytest.mark.parametrize("options", [{"layout": "columns"}, {"normalize": "z"}, {"n_train": -2}])
def test_bad_options(cifar_root, options):
    with pytest.raises(ConfigError):
        build_cifar10(seed=0, root=cifar_root[0], **options)


def test_the_check_before_a_study_needs_every_file(cifar_root):
    from sparsernn.data.registry import check_files

    root = cifar_root[0]
    check_files("cifar10", {"root": str(root)})
    (root / "data_batch_3.bin").unlink()  # the test batch alone does not train anything
    with pytest.raises(
        DataError, match=r"dataset 'cifar10': missing files in .*sparsernn data prepare cifar10"
    ):
        check_files("cifar10", {"root": str(root)})
