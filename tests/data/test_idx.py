import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsernn.data.idx import parse_idx, read_idx, write_idx
from sparsernn.errors import DataError


def _hand_made(values, shape, code=0x08, dtype=">u1"):
    """IDX bytes written by hand from the format description (independent of write_idx)."""
    header = bytes([0, 0, code, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)
    return header + np.asarray(values, dtype=dtype).tobytes()


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_write_read_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if suffix else b"\x00\x00")


def test_parses_hand_made_big_endian_bytes():
    data = _hand_made([1, -2, 300], (3,), code=0x0B, dtype=">i2")
    assert parse_idx(data).tolist() == [1, -2, 300]
    assert parse_idx(_hand_made([[1, 2], [3, 4]], (2, 2))).tolist() == [[1, 2], [3, 4]]


def test_gzip_detected_by_content_not_name(tmp_path):
    (tmp_path / "plain.gz").write_bytes(_hand_made([5, 6], (2,)))
    (tmp_path / "packed").write_bytes(gzip.compress(_hand_made([7], (1,))))
    assert read_idx(tmp_path / "plain.gz").tolist() == [5, 6]
    assert read_idx(tmp_path / "packed").tolist() == [7]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "bad IDX magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
        (_hand_made([1, 2, 3], (4,)), "truncated: 11 bytes, expected 12"),
        (_hand_made([1, 2, 3], (2,)), "trailing bytes"),
        (_hand_made([1, 2], (1,), code=0x0C, dtype=">i4"), "trailing bytes"),
        # sizes whose product is 2**64: np.prod wrapped to 0, so the bare header passed the length check
        (_hand_made([], (2**22, 2**22, 2**20)), r"truncated: 16 bytes, expected 18446744073709551632 for"),
        (_hand_made([], (2**32 - 1,) * 4, code=0x0E, dtype=">f8"), r"truncated: 20 bytes, expected \d{40} "),
        (_hand_made([], (0, 2**16, 2**16, 2**31)), r"IDX shape \(0, 65536, 65536, 2147483648\) is too large"),
    ],
)
def test_malformed_files_name_the_file_and_problem(tmp_path, data, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_and_truncated_gzip(tmp_path):
    packed = gzip.compress(_hand_made(range(200), (200,)))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    (tmp_path / "flipped.gz").write_bytes(packed[:20] + bytes([packed[20] ^ 0xFF]) + packed[21:])
    for name in ("cut.gz", "flipped.gz"):
        with pytest.raises(DataError, match=rf"{name}: corrupt or truncated gzip"):
            read_idx(tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope: file not found"):
        read_idx(tmp_path / "nope")


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(DataError, match="cannot write"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.uint16))


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
    st.lists(st.sampled_from([0, 1, 2, 3, 2**16, 2**22, 2**31, 2**32 - 1]), min_size=0, max_size=5),
    st.binary(max_size=40),
)
def test_any_header_and_payload_give_an_array_or_a_data_error(code, shape, payload):
    data = bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape) + payload
    try:
        array = parse_idx(data, "x-idx")
    except DataError as error:
        assert str(error).startswith("x-idx: ")
        return
    assert array.shape == tuple(shape)
