"""A synthetic Speech Commands corpus made offline with espeak-ng, in the v0.02 layout.

:func:`prepare_synthetic_speech` speaks each word with every voice × rate × pitch, trims the
synthesizer's silence, resamples to 16 kHz, places the word at a random offset in a 1 s clip
with a random peak level over a faint white-noise floor (std :data:`NOISE_FLOOR`), and writes
``<word>/<voice>-p<pitch>-r<rate>_nohash_0.wav`` (16-bit mono). Per word, a seeded shuffle puts
``test_fraction`` of its clips in ``testing_list.txt`` and ``valid_fraction`` in
``validation_list.txt``. ``_background_noise_/`` gets white and pink noise. A manifest
(``sparsernn_synthetic.json``) records the options; preparing again with the same options is a
no-op. The corpus is built in a temporary sibling folder and renamed into place.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sparsernn._seed import numpy_rng
from sparsernn.data import audio, speech, speech_layout
from sparsernn.data.arrays import check_option_names, keyword_names
from sparsernn.data.batch import DataSplits
from sparsernn.data.feature_cache import cache_key
from sparsernn.data.paths import data_home
from sparsernn.errors import ConfigError, DataError

MANIFEST = "sparsernn_synthetic.json"
DEFAULT_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-scotland+m3")
DEFAULT_RATES = (130, 170, 210)  # words per minute
DEFAULT_PITCHES = (30, 50, 70)  # espeak-ng pitch, 0..99
NOISE_SECONDS = 10.0
NOISE_FLOOR = 0.002  # std of the white noise under every clip, about -54 dB full scale
FORMAT_VERSION = 2


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` command is on the PATH.

    Examples
    --------
    >>> isinstance(espeak_available(), bool)
    True
    """
    return shutil.which("espeak-ng") is not None


def synthesize(word: str, *, voice: str, rate: int, pitch: int) -> np.ndarray:
    """``word`` spoken by espeak-ng, trimmed of leading/trailing silence, as float32 at 16 kHz.

    Examples
    --------
    >>> x = synthesize("yes", voice="en-us", rate=160, pitch=50)
    >>> 0 < len(x) < 16000
    True
    """
    import librosa
    import soundfile

    if not espeak_available():
        raise DataError(
            "the espeak-ng command is not installed (apt-get install espeak-ng); cannot synthesize speech"
        )
    command = ["espeak-ng", "--stdout", "-v", voice, "-s", str(rate), "-p", str(pitch), word]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(f"espeak-ng failed for voice {voice!r} ({reason[-1] if reason else 'no output'})")
    samples, rate_hz = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    samples = librosa.resample(samples, orig_sr=rate_hz, target_sr=audio.SAMPLE_RATE)
    trimmed, _ = librosa.effects.trim(samples, top_db=40)
    return trimmed.astype(np.float32)


def _place(word_audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The word at a random offset in a 1 s clip, scaled to a random peak in [0.3, 0.9], over a noise floor."""
    clip = np.zeros(audio.CLIP_SAMPLES, dtype=np.float32)
    word_audio = word_audio[: audio.CLIP_SAMPLES]
    start = int(rng.integers(0, audio.CLIP_SAMPLES - len(word_audio) + 1))
    clip[start : start + len(word_audio)] = word_audio
    peak = float(np.abs(clip).max())
    if peak > 0:
        clip *= np.float32(rng.uniform(0.3, 0.9) / peak)
    # real recordings are never digitally silent; without a floor, log-mel frames of the silent
    # part sit at log(1e-6) and any added noise changes them drastically
    return clip + rng.normal(0.0, NOISE_FLOOR, audio.CLIP_SAMPLES).astype(np.float32)


def _noises(rng: np.random.Generator, seconds: float) -> dict[str, np.ndarray]:
    """White and pink (1/f power) noise, each scaled to a standard deviation of 0.1."""
    n = int(seconds * audio.SAMPLE_RATE)
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    spectrum[1:] /= np.sqrt(freqs[1:])  # amplitude ∝ f^(-1/2), so power ∝ 1/f
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, n)
    return {
        name: np.clip(0.1 * x / x.std(), -1, 1).astype(np.float32)
        for name, x in (("white", white), ("pink", pink))
    }


def _slug(voice: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", voice).strip("-")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(options: dict[str, Any]) -> dict[str, Any]:
    """Validate corpus options; return them as the JSON manifest (lists, plus the format version)."""
    for key in ("words", "voices", "rates", "pitches"):
        values = options[key]
        if isinstance(values, str) or not values or len(set(values)) != len(values):
            raise ConfigError(f"{key} must be a non-empty list of distinct values, got {values!r}")
    for word in options["words"]:
        if not re.fullmatch(r"[a-z]+", word):
            raise ConfigError(f"word {word!r} must be lowercase letters a-z (it names a folder)")
    if not all(_is_int(r) and 80 <= r <= 450 for r in options["rates"]):
        raise ConfigError(f"rates must be integers in 80..450 words per minute, got {options['rates']!r}")
    if not all(_is_int(p) and 0 <= p <= 99 for p in options["pitches"]):
        raise ConfigError(f"pitches must be integers in 0..99, got {options['pitches']!r}")
    fractions = (options["valid_fraction"], options["test_fraction"])
    if not all(0 <= f < 1 for f in fractions) or sum(fractions) >= 1:
        raise ConfigError(
            f"valid_fraction and test_fraction must be in [0, 1) with a sum below 1, got {fractions}"
        )
    return {k: list(v) if isinstance(v, Sequence) else v for k, v in options.items()} | {
        "version": FORMAT_VERSION
    }


def default_root(**options: Any) -> Path:
    """The default folder of a corpus: ``data_home() / "synthetic_speech" / <hash of the options>``.

    Examples
    --------
    >>> default_root().parent.name
    'synthetic_speech'
    """
    return data_home() / "synthetic_speech" / cache_key(_check(_defaults() | options))[:12]


def _defaults() -> dict[str, Any]:
    """The keyword defaults of :func:`prepare_synthetic_speech` (one source of truth)."""
    return dict(prepare_synthetic_speech.__kwdefaults__)


def _speak_all(manifest: dict[str, Any]) -> dict[tuple[str, str, int, int], np.ndarray]:
    """Every (word, voice, pitch, rate) utterance; espeak-ng runs in parallel processes."""
    keys = list(
        itertools.product(manifest["words"], manifest["voices"], manifest["pitches"], manifest["rates"])
    )
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        spoken = pool.map(lambda k: synthesize(k[0], voice=k[1], rate=k[3], pitch=k[2]), keys)
        return dict(zip(keys, spoken))


def _write_corpus(folder: Path, manifest: dict[str, Any]) -> None:
    import soundfile

    rng = numpy_rng(manifest["seed"])
    lists: dict[str, list[str]] = {speech_layout.VALIDATION_LIST: [], speech_layout.TESTING_LIST: []}
    spoken = _speak_all(manifest)
    for word in manifest["words"]:
        (folder / word).mkdir()
        names = []
        for (w, voice, pitch, rate), utterance in spoken.items():
            if w == word:  # placement draws happen in a fixed order, so the corpus is reproducible
                name = f"{_slug(voice)}-p{pitch}-r{rate}_nohash_0.wav"
                soundfile.write(
                    folder / word / name, _place(utterance, rng), audio.SAMPLE_RATE, subtype="PCM_16"
                )
                names.append(f"{word}/{name}")
        order = rng.permutation(len(names))
        n_test, n_valid = (round(manifest[k] * len(names)) for k in ("test_fraction", "valid_fraction"))
        lists[speech_layout.TESTING_LIST] += [names[i] for i in order[:n_test]]
        lists[speech_layout.VALIDATION_LIST] += [names[i] for i in order[n_test : n_test + n_valid]]
    for name, entries in lists.items():
        (folder / name).write_text("".join(f"{e}\n" for e in sorted(entries)), encoding="utf-8")
    (folder / speech_layout.NOISE_FOLDER).mkdir()
    for kind, noise in _noises(rng, NOISE_SECONDS).items():
        soundfile.write(
            folder / speech_layout.NOISE_FOLDER / f"{kind}_noise.wav",
            noise,
            audio.SAMPLE_RATE,
            subtype="PCM_16",
        )
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def prepare_synthetic_speech(
    root: str | os.PathLike[str] | None = None,
    *,
    words: Sequence[str] = speech_layout.COMMANDS,
    voices: Sequence[str] = DEFAULT_VOICES,
    rates: Sequence[int] = DEFAULT_RATES,
    pitches: Sequence[int] = DEFAULT_PITCHES,
    seed: int = 0,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
) -> Path:
    """Synthesize the corpus into ``root`` (see the module docstring) and return ``root``.

    ``root`` defaults to :func:`default_root` of the options. An existing corpus made with the
    same options is reused; a folder holding anything else is an error (nothing is overwritten).
    The defaults give 10 words × 4 voices × 3 rates × 3 pitches = 360 clips in a few seconds.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "speech"
    >>> folder = prepare_synthetic_speech(root, words=("go",), voices=("en-us",), rates=(150, 200),
    ...                                   pitches=(50,))
    >>> sorted(p.name for p in (folder / "go").iterdir())
    ['en-us-p50-r150_nohash_0.wav', 'en-us-p50-r200_nohash_0.wav']
    """
    options = dict(words=words, voices=voices, rates=rates, pitches=pitches, seed=seed)
    manifest = _check(options | dict(valid_fraction=valid_fraction, test_fraction=test_fraction))
    root = default_root(**manifest) if root is None else Path(root).expanduser()
    if _holds_corpus(root, manifest):
        return root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DataError(
            f"{root}: exists and is not an empty folder or a synthetic corpus; choose another root"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        _write_corpus(building, manifest)
        try:
            if root.exists():
                root.rmdir()
            os.replace(building, root)  # atomic: a corpus folder is complete or absent
        except OSError:
            # Another process (e.g. a parallel sweep worker) put the same corpus in place first.
            if not _holds_corpus(root, manifest):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return root


def build_synthetic_speech(
    *,
    seed: int,
    root: str | Path | None = None,
    corpus: dict[str, Any] | None = None,
    **options: Any,
) -> DataSplits:
    """Speech splits from the synthetic corpus, synthesized first when missing.

    ``corpus`` holds :func:`prepare_synthetic_speech` options (its own ``seed`` included: the
    corpus does not depend on the run ``seed``); ``options`` are those of
    :func:`sparsernn.data.speech.build_speech_commands`; ``words`` defaults to the corpus words.

    Examples
    --------
    >>> import tempfile
    >>> corpus = {"words": ("yes", "no"), "voices": ("en-us",), "rates": (140, 180), "pitches": (40, 60)}
    >>> splits = build_synthetic_speech(seed=0, root=tempfile.mkdtemp() + "/c", corpus=corpus, cache=False)
    >>> len(splits.train), len(splits.test), splits.train[0][0].shape, splits.num_classes
    (6, 2, torch.Size([101, 40]), 2)
    """
    corpus = dict(corpus or {})
    check_option_names("the synthetic speech corpus", keyword_names(prepare_synthetic_speech, "root"), corpus)
    accepted = keyword_names(speech.build_speech_commands, "seed", "root")
    check_option_names("dataset 'synthetic_speech'", [*accepted, "corpus", "root"], options)
    folder = prepare_synthetic_speech(root, **corpus)
    options.setdefault("words", tuple(corpus.get("words", speech_layout.COMMANDS)))
    splits = speech.build_speech_commands(seed=seed, root=folder, **options)
    return dataclasses.replace(splits, name="synthetic_speech")  # keeps a validation split


def _holds_corpus(root: Path, manifest: dict) -> bool:
    """Whether ``root`` is a finished corpus made with ``manifest`` (DataError if made with others)."""
    if not (root / MANIFEST).is_file():
        return False
    if json.loads((root / MANIFEST).read_text(encoding="utf-8")) == manifest:
        return True
    raise DataError(f"{root}: holds a synthetic corpus made with other options; choose another root")
