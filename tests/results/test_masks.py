"""The masks file of a run: bit-packed masks that read back exactly, in the same bytes every time."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

import sparsernn as sr
from sparsernn.errors import DataError, MaskError
from sparsernn.results.masks import MASKS, pack_masks, unpack_masks


def _masks(seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    shapes = {"rnn.weight_ih_l0": (12, 5), "rnn.weight_hh_l0": (12, 3)}  # sizes not multiples of 8
    return {
        (path, level): {
            name: torch.rand(shape, generator=generator) < level for name, shape in shapes.items()
        }
        for path in ("magnitude", "scratch:expander")
        for level in (1.0, 0.3, 0.07)
    }


def test_masks_read_back_exactly_with_keys_names_and_order():
    masks = _masks()
    loaded = unpack_masks(pack_masks(masks))
    assert list(loaded) == list(masks)
    for key, named in masks.items():
        assert list(loaded[key]) == list(named)
        for name, mask in named.items():
            assert loaded[key][name].dtype == torch.bool and torch.equal(loaded[key][name], mask)


def test_the_same_masks_give_the_same_bytes():
    assert pack_masks(_masks()) == pack_masks(_masks()) != pack_masks(_masks(seed=1))
    assert unpack_masks(pack_masks({})) == {}


def test_one_level_of_a_hidden_128_lstm_with_40_inputs_takes_about_11_kb():
    generator = torch.Generator().manual_seed(0)
    level = {
        "rnn.weight_ih_l0": torch.rand(512, 40, generator=generator) < 0.5,  # the least compressible density
        "rnn.weight_hh_l0": torch.rand(512, 128, generator=generator) < 0.5,
    }
    size = len(pack_masks({("random", 0.5): level}))
    assert (512 * 40 + 512 * 128) // 8 == 10_752 and size < 10_752 + 1_500  # bits, plus the table and zip


def test_load_masks_reads_a_run_folder(tmp_path):
    (tmp_path / MASKS).write_bytes(pack_masks(_masks()))
    loaded = sr.results.load_masks(tmp_path)
    assert torch.equal(
        loaded[("magnitude", 0.3)]["rnn.weight_hh_l0"], _masks()[("magnitude", 0.3)]["rnn.weight_hh_l0"]
    )


def test_a_missing_or_damaged_file_is_a_one_line_data_error(tmp_path):
    with pytest.raises(DataError, match=r"holds no masks\.npz") as error:
        sr.results.load_masks(tmp_path)
    assert "\n" not in str(error.value)
    (tmp_path / MASKS).write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a masks file"):
        sr.results.load_masks(tmp_path)


def test_only_2d_bool_masks_are_packed():
    with pytest.raises(MaskError, match=r"'w' of \('p', 0\.5\): expected a 2-D bool tensor"):
        pack_masks({("p", 0.5): {"w": torch.ones(3, 3)}})
    with pytest.raises(MaskError, match="1-D"):
        pack_masks({("p", 0.5): {"w": torch.ones(3, dtype=torch.bool)}})


def _edited(data: bytes, **changes) -> bytes:
    """The masks file ``data`` with some of its arrays replaced."""
    with np.load(io.BytesIO(data)) as archive:
        arrays = {name: archive[name] for name in archive.files} | changes
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_a_table_that_does_not_fit_its_bits_is_refused_not_padded():
    data = pack_masks(_masks())
    with np.load(io.BytesIO(data)) as archive:
        bits, start, shape = archive["bits"], archive["start"], archive["shape"]
    for changes in (
        {"bits": bits[: len(bits) // 2]},  # np.unpackbits(count=...) would pad with pruned entries
        {"start": start[:-1]},
        {"shape": shape * 10**6},  # a huge allocation from a tiny file
    ):
        with pytest.raises(DataError, match="table of shapes and offsets does not fit its bits"):
            unpack_masks(_edited(data, **changes))


@pytest.mark.parametrize("position", range(0, 400, 7))
def test_any_damaged_byte_gives_masks_or_a_data_error(position):
    data = bytearray(pack_masks(_masks()))
    data[position % len(data)] ^= 0xFF
    with contextlib.suppress(DataError):  # a byte of a zip header may change nothing
        unpack_masks(bytes(data))
