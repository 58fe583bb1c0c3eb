"""One clip of the synthetic speech corpus: a perturbed, placed word over a seeded background.

:func:`render_clip` turns a synthesized utterance into a 1 s clip in five steps, every draw from
the generator it is given:

1. **speed**: the utterance is resampled by a factor uniform in ``[1 - speed_jitter, 1 + speed_jitter]``
   (linear interpolation; like a tape played faster or slower, it shifts tempo and pitch together);
2. **placement**: at an offset uniform over the positions that keep it inside the clip, with a
   peak level uniform in :data:`PEAK_DBFS` dB full scale;
3. **background**: a mixture of unit-power components: pink (power ∝ 1/f) and brown (∝ 1/f², no
   energy below 20 Hz) noise, white noise (microphone self-noise), a mains hum (50 or 60 Hz,
   slightly detuned, with 8 harmonics of random amplitude and phase), and babble (2-4 utterances from
   ``babble_pool``, other words in the corpus, at random offsets and gains). The babble share of the background power is uniform
   in ``[0, 0.5]`` (0 when no other words exist); the rest is split among the four stationary
   components by a flat Dirichlet draw, so every clip has a noise floor from start to end;
4. **SNR**: the background is scaled to an SNR uniform in ``snr_db`` (default 5-30 dB), defined as
   ``10·log10(P_word / P_noise)`` with ``P_word`` the mean power over the word's own samples (the
   trimmed utterance as placed) and ``P_noise`` the mean power of the background over the clip;
5. **headroom**: when the sum peaks above 0.99, word and background are scaled down together (the
   SNR is unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sparsernn.data import audio

PEAK_DBFS = (-12.0, -1.0)  # peak level of the placed word
STATIONARY = ("pink", "brown", "white", "hum")
MAX_BABBLE_SHARE = 0.5
HEADROOM = 0.99


@dataclass(frozen=True)
class ClipParts:
    """The parts of one clip: ``word`` and ``noise`` (float32, 16,000 samples each) and what was drawn.

    ``span`` is the ``[start, stop)`` sample range of the word; ``snr_db`` the drawn SNR.
    """

    word: np.ndarray
    noise: np.ndarray
    span: tuple[int, int]
    snr_db: float
    speed: float

    @property
    def clip(self) -> np.ndarray:
        """The clip: word plus background, float32 in [-1, 1]."""
        return (self.word + self.noise).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return x / rms if rms > 0 else x


def _coloured(rng: np.random.Generator, n: int, exponent: float, f_min: float = 0.0) -> np.ndarray:
    """Noise with power ∝ f^(-exponent), zero below ``f_min`` Hz, unit power."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / audio.SAMPLE_RATE)
    keep = freqs > max(f_min, 0.0)
    spectrum[~keep] = 0.0
    spectrum[keep] /= freqs[keep] ** (exponent / 2)
    return _unit(np.fft.irfft(spectrum, n))


def _hum(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mains hum: 50 or 60 Hz (±0.5 Hz) and 8 harmonics with amplitudes ~ U(0, 1)/k, unit power."""
    f0 = float(rng.choice([50.0, 60.0])) + rng.uniform(-0.5, 0.5)
    t = np.arange(n) / audio.SAMPLE_RATE
    k = np.arange(1, 10)[:, None]
    amplitudes = rng.uniform(0.0, 1.0, (9, 1)) / k
    phases = rng.uniform(0.0, 2 * np.pi, (9, 1))
    return _unit((amplitudes * np.sin(2 * np.pi * f0 * k * t + phases)).sum(axis=0))


def _babble(rng: np.random.Generator, n: int, pool: Sequence[np.ndarray]) -> np.ndarray:
    """2-4 utterances of ``pool`` at random offsets (partly outside the clip allowed) and gains."""
    out = np.zeros(n)
    for index in rng.choice(len(pool), size=int(rng.integers(2, 5))):
        voice = pool[int(index)][:n]
        start = int(rng.integers(-len(voice) // 2, n - len(voice) // 2))
        lo, hi = max(start, 0), min(start + len(voice), n)
        out[lo:hi] += rng.uniform(0.3, 1.0) * voice[lo - start : hi - start]
    return _unit(out)


def background(rng: np.random.Generator, babble_pool: Sequence[np.ndarray] = (), n: int = audio.CLIP_SAMPLES):
    """A seeded background of ``n`` samples with unit mean power (mixture: module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> noise = background(np.random.default_rng(0))
    >>> noise.shape, round(float(np.mean(noise**2)), 3)
    ((16000,), 1.0)
    """
    share = rng.uniform(0.0, MAX_BABBLE_SHARE) if len(babble_pool) else 0.0
    weights = (1.0 - share) * rng.dirichlet(np.ones(len(STATIONARY)))
    parts = [_coloured(rng, n, 1.0), _coloured(rng, n, 2.0, f_min=20.0), _unit(rng.standard_normal(n))]
    parts.append(_hum(rng, n))
    mix = sum(np.sqrt(w) * p for w, p in zip(weights, parts))
    if share:
        mix = mix + np.sqrt(share) * _babble(rng, n, babble_pool)
    return _unit(mix).astype(np.float32)


def change_speed(utterance: np.ndarray, factor: float) -> np.ndarray:
    """``utterance`` played ``factor`` times faster (linear interpolation; shorter when factor > 1).

    Examples
    --------
    >>> import numpy as np
    >>> len(change_speed(np.ones(1000, np.float32), 1.25)), len(change_speed(np.ones(1000), 0.8))
    (800, 1250)
    """
    n = max(1, round(len(utterance) / factor))
    positions = np.minimum(np.arange(n) * factor, len(utterance) - 1)
    return np.interp(positions, np.arange(len(utterance)), utterance).astype(np.float32)


def render_clip(
    utterance: np.ndarray,
    rng: np.random.Generator,
    *,
    snr_db: tuple[float, float] = (5.0, 30.0),
    speed_jitter: float = 0.08,
    babble_pool: Sequence[np.ndarray] = (),
) -> ClipParts:
    """One clip from a trimmed 16 kHz ``utterance``: speed, placement, background, SNR (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> word = np.sin(np.arange(6000) * 0.2).astype(np.float32)
    >>> parts = render_clip(word, np.random.default_rng(1))
    >>> start, stop = parts.span
    >>> snr = 10 * np.log10(np.mean(parts.word[start:stop] ** 2) / np.mean(parts.noise**2))
    >>> parts.clip.shape, 5 <= round(float(snr), 3) == round(parts.snr_db, 3) <= 30
    ((16000,), True)
    """
    speed = float(rng.uniform(1.0 - speed_jitter, 1.0 + speed_jitter))
    voice = change_speed(utterance, speed)[: audio.CLIP_SAMPLES]
    start = int(rng.integers(0, audio.CLIP_SAMPLES - len(voice) + 1))
    word = np.zeros(audio.CLIP_SAMPLES, dtype=np.float64)
    word[start : start + len(voice)] = voice
    peak = float(np.abs(voice).max(initial=0.0))
    if peak > 0:
        word *= 10 ** (rng.uniform(*PEAK_DBFS) / 20) / peak
    snr = float(rng.uniform(*snr_db))
    noise = background(rng, babble_pool).astype(np.float64)
    word_power = float(np.mean(np.square(word[start : start + len(voice)])))
    noise *= np.sqrt(max(word_power, 1e-12) / 10 ** (snr / 10))
    top = float(np.abs(word + noise).max())
    if top > HEADROOM:
        word, noise = word * (HEADROOM / top), noise * (HEADROOM / top)
    return ClipParts(
        word.astype(np.float32), noise.astype(np.float32), (start, start + len(voice)), snr, speed
    )
