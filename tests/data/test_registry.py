import dataclasses
import gzip
import hashlib

import numpy as np
import pytest

import sparsernn
import sparsernn.data as data
from sparsernn.data import mnist
from sparsernn.data.idx import write_idx
from sparsernn.data.registry import DATASETS, DatasetInfo, build, list_datasets, prepare
from sparsernn.errors import ConfigError, DataError

NAMES = {
    "mnist1d",
    "sequential_mnist",
    "fashion_mnist",
    "cifar10",
    "speech_commands",
    "synthetic_speech",
    "darji_reber",
}


def _tiny_idx(root):
    for prefix, n in (("train", 4), ("t10k", 2)):
        write_idx(root / f"{prefix}-images-idx3-ubyte", np.full((n, 28, 28), 7, np.uint8))
        write_idx(root / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8))
    return root


def test_registry_names_and_read_only():
    assert set(DATASETS) == NAMES
    with pytest.raises(TypeError):
        DATASETS["mine"] = lambda **kw: None


def test_unknown_dataset_lists_the_names():
    with pytest.raises(
        ConfigError, match="unknown dataset 'mnist2d'; choose from cifar10, darji_reber, fashion_mnist"
    ):
        build("mnist2d", seed=0)


def test_unknown_option_lists_the_options():
    with pytest.raises(
        ConfigError,
        match="unknown option 'n_trian' for dataset 'mnist1d'; choose from n_test, n_train, n_val, root, val_fraction",
    ):
        build("mnist1d", seed=0, n_trian=5)
    with pytest.raises(ConfigError, match="unknown option 'size' for dataset 'darji_reber'"):
        build("darji_reber", seed=0, size=5)


def test_build_passes_seed_and_options(tmp_path):
    splits = build("sequential-mnist", seed=0, root=_tiny_idx(tmp_path), layout="pixels", n_train=3)
    assert (
        splits.name == "sequential_mnist" and len(splits.train) == 3 and splits.train[0][0].shape == (784, 1)
    )
    a, b = build("mnist1d", seed=4, n_train=10, n_test=10), data.mnist1d(seed=4, n_train=10, n_test=10)
    assert a.train.x.equal(b.train.x)


def test_darji_reber_through_the_registry():
    splits = build("darji_reber", seed=0, n_valid=40)
    assert (splits.num_classes, splits.vocab_size, len(splits.train) + len(splits.test)) == (2, 128, 80)
    x, y = splits.train[0]
    assert not x.dtype.is_floating_point and y in (0, 1)


def test_list_datasets(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path))
    (tmp_path / "sequential_mnist").mkdir()
    _tiny_idx(tmp_path / "sequential_mnist")
    infos = {info.name: info for info in list_datasets()}
    assert [i.name for i in list_datasets()] == sorted(NAMES)
    assert infos["mnist1d"].root is None and infos["mnist1d"].available and not infos["mnist1d"].preparable
    assert (
        infos["sequential_mnist"].root == tmp_path / "sequential_mnist"
        and infos["sequential_mnist"].available
    )
    assert infos["cifar10"].root == tmp_path / "cifar10" and not infos["cifar10"].available
    assert (
        infos["synthetic_speech"].preparable
        and infos["synthetic_speech"].root.parent == tmp_path / "synthetic_speech"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        infos["cifar10"].name = "x"
    assert all(isinstance(i, DatasetInfo) and i.description for i in infos.values())


def test_prepare_generated_and_unknown():
    with pytest.raises(ConfigError, match="'mnist1d' is generated when built; nothing to prepare"):
        prepare("mnist1d")
    with pytest.raises(ConfigError, match="unknown dataset 'imagenet'"):
        prepare("imagenet")


def test_prepare_checks_local_datasets(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path))
    monkeypatch.setattr(mnist, "FASHION_MNIST_DEBIAN_ROOT", tmp_path / "absent")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        prepare("fashion_mnist")
    assert prepare("fashion-mnist", _tiny_idx(tmp_path)) == tmp_path
    with pytest.raises(DataError, match=r"speech_commands_v0\.02\.tar\.gz"):
        prepare("speech_commands")
    for name in ("validation_list.txt", "testing_list.txt"):
        (tmp_path / name).write_text("")
    assert prepare("speech_commands", tmp_path) == tmp_path


def test_prepare_downloads_mnist(http_server, tmp_path):
    blobs = {}
    for name in mnist.MNIST_SHA256:
        array = np.zeros((2, 28, 28) if "images" in name else (2,), np.uint8)
        blobs[name] = gzip.compress(
            bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes() + array.tobytes()
        )
        http_server.files[f"/x/{name}"] = blobs[name]
    checksums = {n: hashlib.sha256(b).hexdigest() for n, b in blobs.items()}
    root = prepare(
        "sequential_mnist", tmp_path / "m", mirrors=[f"{http_server.base_url}/x/"], checksums=checksums
    )
    assert root == tmp_path / "m" and mnist.idx_files_present(root)
    with pytest.raises(ConfigError, match="unknown option 'mirror' for preparing 'sequential_mnist'"):
        prepare("sequential_mnist", tmp_path / "m", mirror="x")


def test_public_names():
    for name in ("mnist1d", "sequential_mnist", "fashion_mnist", "cifar10", "speech_commands"):
        assert callable(getattr(data, name))
    assert data.DATASETS is DATASETS and data.build is build
    assert {"Batch", "collate", "DataSplits"} <= set(data.__all__)
    assert all(hasattr(data, name) for name in data.__all__)
    assert data.reber.is_valid("BTXSE") and sparsernn.data.reber is data.reber
    assert "reber" in dir(data)
    with pytest.raises(AttributeError):
        data.no_such_thing  # noqa: B018
