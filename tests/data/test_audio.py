import re

import numpy as np
import pytest
import scipy.fft
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsernn.data import audio
from sparsernn.errors import ConfigError, DataError


def _slaney_mel(sr, n_fft, n_mels):
    """Slaney-style mel filterbank written from its definition (linear below 1 kHz, log above)."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        step, mel_1k, log_step = 200.0 / 3, 15.0, np.log(6.4) / 27.0
        return np.where(f < 1000, f / step, mel_1k + np.log(np.maximum(f, 1e-9) / 1000) / log_step)

    def mel_to_hz(m):
        step, mel_1k, log_step = 200.0 / 3, 15.0, np.log(6.4) / 27.0
        return np.where(m < mel_1k, m * step, 1000 * np.exp(log_step * (m - mel_1k)))

    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    bank = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, mid, hi = edges[i : i + 3]
        rising, falling = (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)
        bank[i] = np.maximum(0, np.minimum(rising, falling)) * 2.0 / (hi - lo)
    return bank


def _power_frames(clip):
    """|STFT|² with a periodic Hann window of 480, hop 160, zero-padded centred frames."""
    padded = np.pad(clip.astype(np.float64), audio.N_FFT // 2)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(audio.N_FFT) / audio.N_FFT)
    frames = [padded[t * audio.HOP_LENGTH : t * audio.HOP_LENGTH + audio.N_FFT] * window for t in range(101)]
    return np.abs(np.fft.rfft(np.stack(frames), axis=1)) ** 2  # (T, n_fft/2 + 1)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    t = np.arange(audio.CLIP_SAMPLES) / audio.SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    loud = 0.9 * np.sign(np.sin(2 * np.pi * 97 * t))
    return np.stack([tone, loud]).astype(np.float32)


def test_log_mel_matches_numpy_reference(clips):
    got = audio.features(clips[:1], "logmel", n_mels=40)[0]
    mel = _power_frames(clips[0]) @ _slaney_mel(16000, 480, 40).T
    assert got.shape == (101, 40)
    np.testing.assert_allclose(got, np.log(mel + 1e-6), rtol=1e-4, atol=1e-4)


def test_mfcc_matches_dct_of_db_mel(clips):
    got = audio.features(clips[:1], "mfcc", n_mels=40, n_mfcc=13)[0]
    mel = _power_frames(clips[0]) @ _slaney_mel(16000, 480, 40).T
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    expected = scipy.fft.dct(db, type=2, norm="ortho", axis=1)[:, :13]
    assert got.shape == (101, 13)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_features_of_a_clip_do_not_depend_on_its_batch(clips, kind):
    alone = audio.features(clips[:1] * 0.01, kind)
    together = audio.features(np.stack([clips[0] * 0.01, clips[1]]), kind)
    np.testing.assert_allclose(together[0], alone[0], rtol=1e-5, atol=1e-5)


def test_unknown_feature_kind():
    with pytest.raises(ConfigError, match="unknown features 'fbank'"):
        audio.features(np.zeros((1, 16000)), "fbank")


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 6.5, 20.0, 40.0])
def test_mix_at_snr_hits_the_requested_ratio(clips, snr_db):
    signal = clips[0].astype(np.float64)
    noise = np.random.default_rng(1).standard_normal(len(signal)) * 3.0
    mixed = audio.mix_at_snr(signal, noise, snr_db)
    added = mixed - signal
    measured = 10 * np.log10(np.mean(signal**2) / np.mean(added**2))
    assert measured == pytest.approx(snr_db, abs=1e-9)
    assert np.allclose(added / noise, added[0] / noise[0])  # a scaled copy of the noise


def test_mix_at_snr_float32_and_edge_cases(clips):
    noise = np.random.default_rng(2).standard_normal(16000).astype(np.float32)
    mixed = audio.mix_at_snr(clips[0], noise, 10.0)
    assert mixed.dtype == np.float32
    assert 10 * np.log10(audio.power(clips[0]) / audio.power(mixed - clips[0])) == pytest.approx(
        10.0, abs=1e-3
    )
    silent = np.zeros(16000, np.float32)
    np.testing.assert_array_equal(audio.mix_at_snr(silent, noise, 0.0), silent)
    with pytest.raises(DataError, match="noise segment is silent"):
        audio.mix_at_snr(clips[0], silent, 0.0)
    with pytest.raises(DataError, match="equal lengths"):
        audio.mix_at_snr(clips[0], noise[:10], 0.0)


def test_noise_window():
    noise = np.arange(50.0)
    rng = np.random.default_rng(3)
    for _ in range(20):
        w = audio.noise_window(noise, 10, rng)
        assert len(w) == 10 and np.all(np.diff(w) == 1) and 0 <= w[0] <= 40
    assert audio.noise_window(np.arange(4.0), 10, rng).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    with pytest.raises(DataError):
        audio.noise_window(np.zeros(0), 10, rng)


def test_fit_length():
    assert audio.fit_length(np.ones(16005)).shape == (16000,)
    padded = audio.fit_length(np.ones(100))
    assert padded[:100].sum() == 100 and not padded[100:].any()


def test_read_wav_round_trip_and_errors(tmp_path):
    values = (np.arange(-400, 400) * 40).astype(np.int16)
    soundfile.write(tmp_path / "ok.wav", values, 16000, subtype="PCM_16")
    np.testing.assert_array_equal(audio.read_wav(tmp_path / "ok.wav"), values / np.float32(32768))
    soundfile.write(tmp_path / "rate.wav", values, 8000)
    soundfile.write(tmp_path / "stereo.wav", np.stack([values, values], axis=1), 16000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    cut = (tmp_path / "ok.wav").read_bytes()[:30]
    (tmp_path / "cut.wav").write_bytes(cut)
    for name, message in [
        ("rate.wav", "sample rate 8000 Hz; expected 16000 Hz"),
        ("stereo.wav", "2 channels; expected mono"),
        ("junk.wav", r"cannot read WAV file \(truncated or corrupt: no data chunk"),
        ("cut.wav", r"cannot read WAV file \(truncated or corrupt: no data chunk"),
        ("missing.wav", "cannot read WAV file"),
    ]:
        with pytest.raises(DataError, match=message) as info:
            audio.read_wav(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)


def _wav_bytes(tmp_path, samples, subtype="PCM_16") -> bytes:
    soundfile.write(tmp_path / "src.wav", samples, 16000, subtype=subtype)
    return (tmp_path / "src.wav").read_bytes()


def test_truncated_or_corrupt_wav_files_are_errors_not_shorter_clips(tmp_path):
    data = _wav_bytes(tmp_path, np.full(800, 0.25))
    start = data.index(b"data") + 8
    cases = {
        "half.wav": (
            data[: len(data) // 2],
            r"cannot read WAV file \(truncated: its data chunk declares 1600 bytes",
        ),
        "one_byte_short.wav": (data[:-1], "declares 1600 bytes, the file holds 1599"),
        "odd_size.wav": (
            data[: start - 4] + (1599).to_bytes(4, "little") + data[start:-1],
            "a data chunk of 1599 bytes is not a whole number of 2-byte frames",
        ),
        "no_fmt.wav": (data[:12] + data[start - 8 :], "no valid fmt chunk before the data chunk"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=message) as info:
            audio.read_wav(tmp_path / name)
        assert str(tmp_path / name) in str(info.value), name
    (tmp_path / "extra.wav").write_bytes(data + b"LIST\x04\x00\x00\x00abcd")  # trailing chunks are fine
    assert audio.read_wav(tmp_path / "extra.wav").shape == (800,)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_errors_naming_the_file(tmp_path, bad):
    samples = np.full(800, 0.25, dtype=np.float32)
    samples[[3, 500]] = bad
    path = tmp_path / "float.wav"
    path.write_bytes(_wav_bytes(tmp_path, samples, subtype="FLOAT"))
    with pytest.raises(DataError, match=re.escape(f"{path}: 2 non-finite samples (NaN or inf)")):
        audio.read_wav(path)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_cut_or_corrupted_wav_gives_a_clip_or_a_data_error(tmp_path_factory, data):
    original = _wav_bytes(tmp_path_factory.mktemp("wav"), np.linspace(-0.5, 0.5, 400))
    content = bytearray(original[: data.draw(st.integers(0, len(original)))])
    corrupted = data.draw(st.booleans()) and len(content) > 0
    for _ in range(data.draw(st.integers(1, 3)) if corrupted else 0):
        content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("cut") / "clip.wav"
    path.write_bytes(bytes(content))
    try:
        clip = audio.read_wav(path)
    except DataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    assert np.isfinite(clip).all()
    if not corrupted:  # a cut file is never a shorter clip
        assert clip.shape == (400,)
