"""Character datasets: codes, DataLoader batches, bad characters, the Darji-Reber builder."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from sparsernn.data import reber
from sparsernn.data.batch import DataSplits, collate
from sparsernn.data.text import VOCAB_SIZE, CharDataset, darji_reber_dataset, encode
from sparsernn.errors import DataError


def test_encode_gives_character_codes():
    s = "BTXSE az~\x01\x7f"
    assert encode(s).tolist() == [ord(c) for c in s]
    assert encode(s).dtype == torch.long


@pytest.mark.parametrize(
    "s, message",
    [
        (
            "BTé",
            r"string 4 has character 'é' \(code 233\) at position 2; character codes must be in 1\.\.127",
        ),
        ("B\x00E", r"character '\\x00' \(code 0\) at position 1"),
        ("\x80", r"code 128\) at position 0"),
        ("BT😀E", r"code 128512\) at position 2"),
        ("", "string 4 is empty"),
        (b"BTXSE", "string 4 is a bytes, not a str"),
    ],
)
def test_encode_rejects_characters_outside_the_range(s, message):
    with pytest.raises(DataError, match=message):
        encode(s, index=4)


def test_dataset_names_the_bad_string():
    with pytest.raises(DataError, match="string 2 has character 'ß'"):
        CharDataset([("BTXSE", 1), ("BPVVE", 1), ("BTßE", 0)])


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([("BTXSE", 1), "BPVVE"], "item 1 must be a \\(string, label\\) pair"),
        ([("BTXSE", -1)], "item 0 has label -1"),
        ([("BTXSE", 0.5)], "labels must be integers"),
        ([("BTXSE", True)], "labels must be integers"),
    ],
)
def test_dataset_rejects_bad_pairs(pairs, message):
    with pytest.raises(DataError, match=message):
        CharDataset(pairs)


def test_dataloader_batches_pad_with_zero_and_feed_an_embedding():
    pairs = reber.darji_strings(seed=0, n_valid=20)
    ds = CharDataset(pairs)
    assert len(ds) == 40
    x, y = ds[25]
    assert x.tolist() == [ord(c) for c in pairs[25][0]] and y == pairs[25][1] == 0
    loader = DataLoader(ds, batch_size=8, shuffle=False, collate_fn=collate)
    embed = torch.nn.Embedding(VOCAB_SIZE, 50)
    seen = 0
    for batch in loader:
        assert batch.x.dtype == torch.long and batch.x.shape[1] == int(batch.lengths.max())
        for row, length, (s, _) in zip(batch.x, batch.lengths, pairs[seen : seen + len(batch.y)]):
            assert row[:length].tolist() == [ord(c) for c in s]
            assert not bool(row[length:].any())  # right padding with code 0
            assert int(length) == len(s)
        assert batch.y.tolist() == [label for _, label in pairs[seen : seen + len(batch.y)]]
        assert embed(batch.x).shape == (*batch.x.shape, 50)
        seen += len(batch.y)
    assert seen == 40


def test_darji_reber_dataset_small():
    splits = darji_reber_dataset(seed=3, n_valid=100)
    assert isinstance(splits, DataSplits)
    assert (splits.name, splits.num_classes, splits.vocab_size, splits.input_size) == (
        "darji_reber",
        2,
        128,
        None,
    )
    assert (len(splits.train), len(splits.test)) == (150, 50)
    train, test = reber.darji_split(reber.darji_strings(seed=3, n_valid=100), seed=3)
    assert [splits.train[i][1] for i in range(150)] == [label for _, label in train]
    assert splits.test[0][0].tolist() == [ord(c) for c in test[0][0]]
    again = darji_reber_dataset(seed=3, n_valid=100)
    assert all(torch.equal(again.train[i][0], splits.train[i][0]) for i in range(150))


def test_darji_reber_dataset_full_size():
    splits = darji_reber_dataset(seed=0)
    assert (len(splits.train), len(splits.test)) == (18_750, 6_250)
    labels = [splits.train[i][1] for i in range(len(splits.train))] + [
        splits.test[i][1] for i in range(len(splits.test))
    ]
    assert sum(labels) == 12_500
