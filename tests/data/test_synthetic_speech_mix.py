"""One clip of the synthetic corpus: SNR range, noise floor, speed perturbation, background spectra."""

import numpy as np
import pytest

from sparsernn.data.synthetic_speech_mix import PEAK_DBFS, background, change_speed, render_clip

RATE = 16000


def _word(n=6000, seed=0):
    """A voiced-like burst: a 150 Hz buzz with harmonics under a smooth envelope."""
    t = np.arange(n) / RATE
    buzz = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    return (np.hanning(n) * buzz * np.random.default_rng(seed).uniform(0.5, 1.0)).astype(np.float32)


def _power(x):
    return float(np.mean(np.square(x, dtype=np.float64)))


def _quietest_window_rms(clip, window=800):  # 50 ms at 16 kHz
    frames = clip[: len(clip) // window * window].reshape(-1, window)
    return float(np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).min())


@pytest.mark.parametrize("snr_db", [(5.0, 30.0), (0.0, 3.0), (20.0, 20.0)])
def test_snr_of_the_parts_lies_in_the_range(snr_db):
    pool = [_word(4000, s) for s in range(5)]
    for seed in range(40):
        parts = render_clip(_word(), np.random.default_rng(seed), snr_db=snr_db, babble_pool=pool)
        start, stop = parts.span
        measured = 10 * np.log10(_power(parts.word[start:stop]) / _power(parts.noise))
        assert measured == pytest.approx(parts.snr_db, abs=1e-3)
        assert snr_db[0] - 1e-3 <= measured <= snr_db[1] + 1e-3
        assert not parts.word[:start].any() and not parts.word[stop:].any()  # the word is in its span


def test_every_clip_has_a_noise_floor_and_headroom():
    pool = [_word(4000, s) for s in range(5)]
    floors = []
    for seed in range(60):
        parts = render_clip(_word(), np.random.default_rng(seed), babble_pool=pool if seed % 2 else ())
        clip = parts.clip
        assert clip.dtype == np.float32 and clip.shape == (RATE,)
        assert np.abs(clip).max() <= 0.99 + 1e-6
        floors.append(_quietest_window_rms(clip))
        # the quietest 50 ms is the background, not digital silence: within 20 dB of its mean power
        assert floors[-1] > 0.1 * np.sqrt(_power(parts.noise))
    assert min(floors) > 10 ** (-70 / 20)  # above -70 dBFS (about 10 steps of 16-bit PCM)


def test_level_and_speed_are_drawn_in_their_ranges():
    word = _word()
    for seed in range(30):
        parts = render_clip(word, np.random.default_rng(seed), speed_jitter=0.1, snr_db=(80.0, 80.0))
        assert 0.9 <= parts.speed <= 1.1
        assert parts.span[1] - parts.span[0] == round(len(word) / parts.speed)
        peak_db = 20 * np.log10(np.abs(parts.word).max())
        assert PEAK_DBFS[0] - 0.01 <= peak_db <= PEAK_DBFS[1] + 0.01
    still = render_clip(word, np.random.default_rng(0), speed_jitter=0.0)
    assert still.speed == 1.0 and still.span[1] - still.span[0] == len(word)


def test_same_generator_same_clip():
    pool = [_word(4000, s) for s in range(3)]
    a = render_clip(_word(), np.random.default_rng(7), babble_pool=pool)
    b = render_clip(_word(), np.random.default_rng(7), babble_pool=pool)
    c = render_clip(_word(), np.random.default_rng(8), babble_pool=pool)
    assert np.array_equal(a.clip, b.clip) and not np.array_equal(a.clip, c.clip)


def test_change_speed_shifts_the_pitch():
    tone = np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32)
    faster = change_speed(tone, 1.1)
    spectrum = np.abs(np.fft.rfft(faster))
    peak_hz = np.fft.rfftfreq(len(faster), 1 / RATE)[spectrum.argmax()]
    assert peak_hz == pytest.approx(484, abs=2) and len(faster) == round(RATE / 1.1)


def _band_power(x, lo, hi):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return spectrum[(freqs >= lo) & (freqs < hi)].sum()


def test_background_is_unit_power_and_mostly_low_frequency():
    for seed in range(10):
        noise = background(np.random.default_rng(seed), n=4 * RATE)
        assert _power(noise) == pytest.approx(1.0, rel=1e-4)
        # pink and brown noise and the hum put more power below 500 Hz than white noise (1/16)
        assert _band_power(noise, 0, 500) / _band_power(noise, 0, 8000) > 0.1


def test_background_without_babble_never_reads_the_pool():
    quiet = background(np.random.default_rng(3), ())
    again = background(np.random.default_rng(3), ())
    assert np.array_equal(quiet, again) and np.isfinite(quiet).all()
