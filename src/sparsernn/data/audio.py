"""Audio for the speech datasets: strict WAV reading, 1-second clips, noise at an SNR, log-mel / MFCC frames.

**SNR.** Mixing noise ``n`` into a clip ``s`` at ``snr_db`` adds ``g·n`` with the gain ``g`` that makes
``10·log10(P(s) / P(g·n)) = snr_db``, where ``P(v) = mean(v²)`` is the mean power over the whole
1-second clip (padding included). A silent clip (``P(s) = 0``) has no defined SNR and stays silent.

**Features** (librosa): frames of ``n_fft = 480`` samples (30 ms, Hann window, centred) every
``hop_length = 160`` samples (10 ms), so a 1 s clip gives ``T = 101`` frames.
``"logmel"``: ``log(mel power + 1e-6)`` of ``n_mels`` mel bands (natural log), ``(T, n_mels)``.
``"mfcc"``: the first ``n_mfcc`` DCT-II (orthonormal) coefficients of the mel power in dB,
``10·log10(max(power, 1e-10))`` (no top-dB clamp), ``(T, n_mfcc)``. Mel bands: librosa's default
Slaney mel scale and area normalization, 0 Hz to 8 kHz.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sparsernn.errors import ConfigError, DataError

SAMPLE_RATE = 16_000
CLIP_SAMPLES = SAMPLE_RATE  # one second
N_FFT = 480
HOP_LENGTH = 160
LOG_OFFSET = 1e-6
FEATURE_KINDS = ("logmel", "mfcc")


def read_wav(path: str | os.PathLike[str]) -> np.ndarray:
    """Samples of a mono 16 kHz WAV file as float32 in [-1, 1]; DataError naming the file otherwise.

    The RIFF structure is checked first: a file whose ``data`` chunk declares more bytes than the file
    holds (a truncated download or copy), or not a whole number of frames, is an error rather than a
    shorter clip, and so are NaN or infinite samples (float WAVs).

    Examples
    --------
    >>> import numpy as np, pathlib, soundfile, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.wav"
    >>> soundfile.write(p, np.full(800, 0.5), 16000, subtype="PCM_16")
    >>> x = read_wav(p)
    >>> x.shape, x.dtype, float(x[0])
    ((800,), dtype('float32'), 0.5)
    >>> _ = p.write_bytes(p.read_bytes()[:-100])
    >>> read_wav(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sparsernn.errors.DataError: .../a.wav: cannot read WAV file (truncated: its data chunk declares 1600 bytes, the file holds 1500)
    """
    import soundfile

    path = Path(path)
    frames = _wav_frames(path)
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError) as exc:  # LibsndfileError derives from RuntimeError
        raise DataError(f"{path}: cannot read WAV file ({exc})") from None
    if rate != SAMPLE_RATE:
        raise DataError(f"{path}: sample rate {rate} Hz; expected {SAMPLE_RATE} Hz")
    if samples.shape[1] != 1:
        raise DataError(f"{path}: {samples.shape[1]} channels; expected mono")
    if frames is not None and len(samples) != frames:
        raise DataError(
            f"{path}: cannot read WAV file (corrupt: read {len(samples)} samples, its header declares {frames})"
        )
    if not np.isfinite(samples).all():
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        raise DataError(f"{path}: {bad} non-finite samples (NaN or inf); expected finite audio")
    return samples[:, 0]


def _wav_frames(path: Path) -> int | None:
    """Frames the ``data`` chunk declares, after checking that the file holds all of it.

    ``None`` for a file that is not RIFF/WAVE at all (then left to soundfile to accept or refuse).
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = 0
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    raise DataError(
                        f"{path}: cannot read WAV file (truncated or corrupt: no data chunk before the end of the file)"
                    )
                name, length = chunk[:4], int.from_bytes(chunk[4:], "little")
                start = handle.tell()
                if name == b"data":
                    return _data_frames(path, length, size - start, block_align)
                if name == b"fmt " and length >= 14:
                    block_align = int.from_bytes(handle.read(14)[12:14], "little")
                handle.seek(start + length + (length & 1))  # chunks are padded to even sizes
    except OSError as exc:
        raise DataError(f"{path}: cannot read WAV file ({exc.strerror or exc})") from None


def _data_frames(path: Path, length: int, available: int, block_align: int) -> int:
    if length > available:
        raise DataError(
            f"{path}: cannot read WAV file (truncated: its data chunk declares {length} bytes, "
            f"the file holds {available})"
        )
    if block_align <= 0:
        raise DataError(f"{path}: cannot read WAV file (corrupt: no valid fmt chunk before the data chunk)")
    if length % block_align:
        raise DataError(
            f"{path}: cannot read WAV file (corrupt: a data chunk of {length} bytes is not a whole "
            f"number of {block_align}-byte frames)"
        )
    return length // block_align


def fit_length(signal: np.ndarray, n: int = CLIP_SAMPLES) -> np.ndarray:
    """Cut ``signal`` to ``n`` samples, or zero-pad it at the end.

    Examples
    --------
    >>> import numpy as np
    >>> fit_length(np.ones(3), 5).tolist(), fit_length(np.arange(6.0), 2).tolist()
    ([1.0, 1.0, 1.0, 0.0, 0.0], [0.0, 1.0])
    """
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(signal))
    out[:m] = signal[:m]
    return out


def power(signal: np.ndarray) -> float:
    """Mean power ``mean(signal²)`` (float64 accumulation).

    Examples
    --------
    >>> import numpy as np
    >>> power(np.array([1.0, -1.0, 0.0, 0.0]))
    0.5
    """
    return float(np.mean(np.square(signal, dtype=np.float64)))


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + g·noise`` with ``g`` such that ``10·log10(power(signal) / power(g·noise)) == snr_db``.

    ``noise`` must have the same length as ``signal``. A silent signal is returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> s, n = np.ones(4), np.array([1.0, -1.0, 1.0, -1.0])
    >>> mixed = mix_at_snr(s, n, 20.0)
    >>> round(float(10 * np.log10(power(s) / power(mixed - s))), 6)
    20.0
    """
    if len(noise) != len(signal):
        raise DataError(
            f"noise has {len(noise)} samples but the signal {len(signal)}; expected equal lengths"
        )
    p_signal, p_noise = power(signal), power(noise)
    if p_signal == 0.0:
        return signal.copy()
    if p_noise == 0.0:
        raise DataError("the noise segment is silent; cannot mix it at a finite SNR")
    gain = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (signal + gain * noise).astype(signal.dtype, copy=False)


def noise_window(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random window of ``n`` samples of ``noise`` (tiled first when shorter than ``n``).

    Examples
    --------
    >>> import numpy as np
    >>> noise_window(np.arange(3.0), 5, np.random.default_rng(0)).tolist()
    [0.0, 1.0, 2.0, 0.0, 1.0]
    """
    if len(noise) == 0:
        raise DataError("a background noise file holds no samples")
    if len(noise) < n:
        noise = np.tile(noise, -(-n // len(noise)))
        return noise[:n]
    start = int(rng.integers(0, len(noise) - n + 1))
    return noise[start : start + n]


def features(
    clips: np.ndarray, kind: str = "logmel", *, n_mels: int = 40, n_mfcc: int = 13, chunk: int = 512
) -> np.ndarray:
    """Frames of a batch of 1-second clips ``(N, 16000)`` → float32 ``(N, T=101, F)`` (see module doc).

    Examples
    --------
    >>> import numpy as np
    >>> clips = np.zeros((2, 16000), np.float32)
    >>> features(clips, "logmel", n_mels=40).shape, features(clips, "mfcc", n_mfcc=13).shape
    ((2, 101, 40), (2, 101, 13))
    """
    import librosa

    if kind not in FEATURE_KINDS:
        raise ConfigError(f"unknown features {kind!r}; choose from {', '.join(FEATURE_KINDS)}")
    clips = np.asarray(clips, dtype=np.float32).reshape(-1, clips.shape[-1])
    out = []
    for start in range(0, len(clips), chunk):  # librosa is vectorized over leading axes
        y = clips[start : start + chunk]
        mel = librosa.feature.melspectrogram(
            y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=n_mels, power=2.0
        )  # (n, n_mels, T)
        if kind == "logmel":
            frames = np.log(mel + LOG_OFFSET)
        else:
            # top_db=None: librosa's default clamp uses the max over the whole array, which would
            # make one clip's features depend on the other clips of the chunk
            db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
            frames = librosa.feature.mfcc(S=db, n_mfcc=n_mfcc)  # (n, n_mfcc, T)
        out.append(np.swapaxes(frames, 1, 2).astype(np.float32))
    width = n_mels if kind == "logmel" else n_mfcc
    return np.concatenate(out) if out else np.zeros((0, 1 + CLIP_SAMPLES // HOP_LENGTH, width), np.float32)
