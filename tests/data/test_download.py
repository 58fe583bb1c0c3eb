import gzip
import hashlib
import io
import socket
import tarfile

import numpy as np
import pytest

from sparsernn.data.cifar import ARCHIVE_FOLDER, build_cifar10, download_cifar10
from sparsernn.data.download import fetch, sha256_of
from sparsernn.data.idx import parse_idx
from sparsernn.data.mnist import MNIST_SHA256, build_sequential_mnist, download_mnist
from sparsernn.errors import DataError

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_fetch_downloads_and_verifies(http_server, tmp_path):
    http_server.files["/f.bin"] = PAYLOAD
    dest = fetch(f"{http_server.base_url}/f.bin", tmp_path / "sub" / "f.bin", _sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "f.bin.part").exists()
    assert sha256_of(dest) == _sha(PAYLOAD)


def test_existing_verified_file_is_not_downloaded_again(http_server, tmp_path):
    (tmp_path / "f.bin").write_bytes(PAYLOAD)
    fetch(f"{http_server.base_url}/f.bin", tmp_path / "f.bin", _sha(PAYLOAD))
    assert http_server.requests == []


def test_existing_file_with_wrong_checksum_is_an_error(http_server, tmp_path):
    (tmp_path / "f.bin").write_bytes(PAYLOAD[:-1])
    with pytest.raises(DataError, match=r"f\.bin.*does not match"):
        fetch(f"{http_server.base_url}/f.bin", tmp_path / "f.bin", _sha(PAYLOAD))


def test_corrupted_download_raises_and_leaves_nothing(http_server, tmp_path):
    http_server.files["/f.bin"] = PAYLOAD[:100] + b"X" + PAYLOAD[101:]
    with pytest.raises(DataError, match=r"f\.bin.*SHA-256.*expected"):
        fetch(f"{http_server.base_url}/f.bin", tmp_path / "f.bin", _sha(PAYLOAD))
    assert list(tmp_path.iterdir()) == []


def test_corrupt_mirror_falls_back_to_the_next(http_server, tmp_path):
    http_server.files["/a/f.bin"] = b"garbage"
    http_server.files["/b/f.bin"] = PAYLOAD
    urls = [
        f"{http_server.base_url}/missing/f.bin",
        f"{http_server.base_url}/a/f.bin",
        f"{http_server.base_url}/b/f.bin",
    ]
    assert fetch(urls, tmp_path / "f.bin", _sha(PAYLOAD)).read_bytes() == PAYLOAD
    assert [path for path, _ in http_server.requests] == ["/missing/f.bin", "/a/f.bin", "/b/f.bin"]


def test_interrupted_download_resumes_with_a_range_request(http_server, tmp_path):
    http_server.files["/f.bin"] = PAYLOAD
    http_server.cut["/f.bin"] = 3000
    url, dest = f"{http_server.base_url}/f.bin", tmp_path / "f.bin"
    with pytest.raises(DataError, match=r"3000 of 10240 bytes.*kept to resume"):
        fetch(url, dest, _sha(PAYLOAD))
    assert not dest.exists() and (tmp_path / "f.bin.part").stat().st_size == 3000
    assert fetch(url, dest, _sha(PAYLOAD)).read_bytes() == PAYLOAD
    assert http_server.requests == [("/f.bin", None), ("/f.bin", "bytes=3000-")]
    assert not (tmp_path / "f.bin.part").exists()


def test_resume_against_a_server_without_ranges_restarts(http_server, tmp_path):
    http_server.files["/f.bin"] = PAYLOAD
    http_server.honour_ranges = False
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes that are not a prefix")
    assert fetch(f"{http_server.base_url}/f.bin", tmp_path / "f.bin", _sha(PAYLOAD)).read_bytes() == PAYLOAD


def test_oversized_partial_file_restarts_after_416(http_server, tmp_path):
    http_server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD + b"extra")
    assert fetch(f"{http_server.base_url}/f.bin", tmp_path / "f.bin", _sha(PAYLOAD)).read_bytes() == PAYLOAD
    assert http_server.requests == [("/f.bin", f"bytes={len(PAYLOAD) + 5}-"), ("/f.bin", None)]


def test_unreachable_server_is_a_data_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match=f"f.bin: download failed: http://127.0.0.1:{port}/f.bin"):
        fetch(f"http://127.0.0.1:{port}/f.bin", tmp_path / "f.bin", _sha(PAYLOAD), timeout=5)


def _idx_gz(array):
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_download_mnist_then_build(http_server, tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3),
    }
    blobs = {name: _idx_gz(a) for name, a in arrays.items()}
    http_server.files.update({f"/mnist/{name}": blob for name, blob in blobs.items()})
    checksums = {name: _sha(blob) for name, blob in blobs.items()}
    root = download_mnist(
        tmp_path / "mnist", mirrors=(f"{http_server.base_url}/mnist/",), checksums=checksums
    )
    assert sorted(p.name for p in root.iterdir()) == sorted(blobs)
    splits = build_sequential_mnist(seed=0, root=root, layout="pixels")
    np.testing.assert_array_equal(splits.test.y.numpy(), arrays["t10k-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(
        np.rint(splits.train.x.numpy() * 255).reshape(6, 28, 28), arrays["train-images-idx3-ubyte.gz"]
    )
    assert parse_idx(gzip.decompress(blobs["t10k-labels-idx1-ubyte.gz"])).shape == (3,)


def test_builder_download_flag_fetches_missing_files(http_server, tmp_path, monkeypatch):
    blobs = {name: _idx_gz(np.zeros((2, 28, 28) if "images" in name else (2,))) for name in MNIST_SHA256}
    http_server.files.update({f"/m/{name}": blob for name, blob in blobs.items()})
    monkeypatch.setattr("sparsernn.data.mnist.MNIST_SHA256", {n: _sha(b) for n, b in blobs.items()})
    monkeypatch.setattr("sparsernn.data.mnist.MNIST_MIRRORS", (f"{http_server.base_url}/m/",))
    splits = build_sequential_mnist(seed=0, root=tmp_path, download=True)
    assert len(splits.train) == 2 and splits.train[0][0].shape == (28, 28)


def test_mnist_constants_are_the_published_digests():
    assert MNIST_SHA256["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in MNIST_SHA256.values())


def _cifar_tar(records_per_file=2):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for k, name in enumerate([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]):
            data = b"".join(bytes([k % 10]) + bytes([k]) * 3072 for _ in range(records_per_file))
            info = tarfile.TarInfo(f"{ARCHIVE_FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../evil.bin")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    return buffer.getvalue()


def test_download_cifar10_unpacks_only_the_expected_files(http_server, tmp_path):
    blob = _cifar_tar()
    http_server.files["/cifar.tar.gz"] = blob
    folder = download_cifar10(tmp_path / "c", url=f"{http_server.base_url}/cifar.tar.gz", sha256=_sha(blob))
    assert folder == tmp_path / "c" / ARCHIVE_FOLDER
    assert not (tmp_path / "evil.bin").exists() and not (tmp_path / "c" / "evil.bin").exists()
    splits = build_cifar10(seed=0, root=tmp_path / "c")
    assert (len(splits.train), len(splits.test)) == (10, 2)
    assert splits.test.y.tolist() == [5, 5] and float(splits.test.x.max()) == pytest.approx(5 / 255)
