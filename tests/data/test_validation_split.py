"""Validation splits: seeded hold-outs of the training set (Speech Commands: validation_list.txt)."""

import numpy as np
import pytest
import soundfile
import torch

from sparsernn.data import build, splits
from sparsernn.data.idx import write_idx
from sparsernn.data.registry import check_options
from sparsernn.data.validation import hold_out_indices, val_size
from sparsernn.errors import ConfigError


def _items(dataset):
    """Every item as ``(bytes of x, y)``, so datasets compare as multisets."""
    return sorted((dataset[i][0].numpy().tobytes(), int(dataset[i][1])) for i in range(len(dataset)))


def _idx_root(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 8)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8))
    return tmp_path


def _cifar_root(tmp_path):
    rng = np.random.default_rng(1)
    for name, n in [(f"data_batch_{k}.bin", 4) for k in range(1, 6)] + [("test_batch.bin", 5)]:
        records = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], axis=1)
        (tmp_path / name).write_bytes(records.astype(np.uint8).tobytes())
    return tmp_path


CASES = {
    "mnist1d": lambda tmp: {"n_train": 50, "n_test": 20},
    "fashion_mnist": lambda tmp: {"root": str(_idx_root(tmp))},
    "sequential_mnist": lambda tmp: {"root": str(_idx_root(tmp)), "normalize": "standard"},
    "cifar10": lambda tmp: {"root": str(_cifar_root(tmp))},
    "darji_reber": lambda tmp: {"n_valid": 40},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hold_out_partitions_the_training_set(name, tmp_path):
    options = CASES[name](tmp_path)
    whole = build(name, seed=3, **options)
    train, val, test = splits(build(name, seed=3, val_fraction=0.2, **options))
    assert splits(whole).val is None
    assert len(val) == round(0.2 * len(whole.train)) and len(train) + len(val) == len(whole.train)
    assert _items(train) + _items(val) != [] and sorted(_items(train) + _items(val)) == _items(whole.train)
    assert _items(test) == _items(whole.test)  # the test set is untouched ...
    assert not set(_items(val)) & set(_items(test))  # ... and disjoint from the validation set
    again = splits(build(name, seed=3, val_fraction=0.2, **options))
    assert _items(again.val) == _items(val)  # same seed, same split


def test_seed_changes_the_split_and_n_val_sets_its_size():
    a = splits(build("mnist1d", seed=0, n_train=60, n_test=10, n_val=12))
    train_a, val_a = hold_out_indices(60, 12, seed=0)
    _, val_b = hold_out_indices(60, 12, seed=1)
    assert len(a.val) == 12 and len(a.train) == 48
    assert not np.array_equal(val_a, val_b)
    assert sorted([*train_a, *val_a]) == list(range(60)) and not set(train_a) & set(val_a)


def test_defaults_leave_the_splits_unchanged():
    plain = build("mnist1d", seed=0, n_train=20, n_test=10)
    zero = build("mnist1d", seed=0, n_train=20, n_test=10, n_val=0, val_fraction=0.0)
    assert type(plain) is type(zero) and torch.equal(plain.train.x, zero.train.x)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_val": -1}, "n_val must be an integer >= 0"),
        ({"val_fraction": 1.0}, r"val_fraction must be a fraction in \[0, 1\)"),
        ({"n_val": 3, "val_fraction": 0.1}, "both given; expected one of them"),
        ({"n_val": 20}, "leaves no training item out of 20"),
        ({"val_fraction": 0.01}, r"val_fraction=0.01 of 20 training items holds out none"),
    ],
)
def test_bad_validation_options(options, message):
    with pytest.raises(ConfigError, match=message):
        build("mnist1d", seed=0, n_train=20, n_test=10, **options)


def test_recipe_checks_name_the_option():
    with pytest.raises(ConfigError, match="option n_val of dataset 'cifar10' must be an integer >= 0"):
        check_options("cifar10", {"n_val": 2.5})
    assert check_options("speech_commands", {"n_val": 4}) == "speech_commands"
    assert val_size(10, val_fraction=0.25) == 2  # round half to even, as Python rounds


@pytest.fixture
def speech_root(tmp_path):
    """Two words, five clips each; c1 in validation_list.txt, c2 in testing_list.txt."""
    for w, word in enumerate(("yes", "no")):
        (tmp_path / word).mkdir()
        for c in range(5):
            tone = 0.3 * np.sin(2 * np.pi * (300 + 150 * w + 40 * c) * np.arange(16000) / 16000)
            soundfile.write(tmp_path / word / f"c{c}_nohash_0.wav", tone, 16000, subtype="PCM_16")
    (tmp_path / "validation_list.txt").write_text("yes/c1_nohash_0.wav\nno/c1_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("yes/c2_nohash_0.wav\nno/c2_nohash_0.wav\n")
    return tmp_path


def test_speech_validation_comes_from_the_validation_list(speech_root):
    options = {"root": str(speech_root), "words": ["yes", "no"], "cache": False, "normalize": False}
    whole = build("speech_commands", seed=0, **options)
    train, val, test = splits(build("speech_commands", seed=0, n_val=2, **options))
    assert (len(train), len(val), len(test)) == (6, 2, 2) and sorted(val.y.tolist()) == [0, 1]
    assert _items(train) == _items(whole.train) and _items(test) == _items(whole.test)
    assert not set(_items(val)) & (set(_items(test)) | set(_items(train)))
    with pytest.raises(ConfigError, match="n_val > 0 needs test_split='testing'"):
        build("speech_commands", seed=0, n_val=2, test_split="validation", **options)
