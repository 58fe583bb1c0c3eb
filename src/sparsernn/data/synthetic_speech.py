"""A synthetic Speech Commands corpus made offline with espeak-ng, in the v0.02 layout.

:func:`prepare_synthetic_speech` speaks each word with every voice × rate × pitch (espeak-ng,
trimmed of its silence, resampled to 16 kHz) and renders ``takes`` clips of each utterance with
:func:`sparsernn.data.synthetic_speech_mix.render_clip`: every take has its own small speed/pitch
perturbation (± ``speed_jitter``), offset, level and background (pink, brown and white noise, a
50/60 Hz hum with harmonics, babble of other words by speakers of the same split) at an SNR
uniform in ``noise_snr_db``
(default 5-30 dB relative to the word's own power), so no clip holds digital silence. Clips are
``<word>/<voice>-p<pitch>-r<rate>_nohash_<take>.wav`` (16-bit mono, 1 s). Each clip draws from its
own generator, seeded by ``seed`` and the clip's indices, so the corpus is byte-for-byte the same
for the same options, whatever the order of the work.

**Splits by speaker.** A speaker is a (voice, pitch) pair; as in Speech Commands, all clips of a
speaker (every word, rate and take) are in one split: a seeded shuffle of the speakers puts
``round(test_fraction · S)`` of them in ``testing_list.txt`` and ``round(valid_fraction · S)`` in
``validation_list.txt``, so the test set holds unseen speakers. The defaults give 16 voices × 3
rates × 3 pitches × 2 takes = 288 clips per word, 2,880 in all; 48 speakers: 10 test (600 clips),
5 validation (300), 33 training (1,980).

``_background_noise_/`` gets 10 s of white and of pink noise (for the ``snr_db`` and ``silence``
options of the builder). A manifest (``sparsernn_synthetic.json``) records the options and
:data:`FORMAT_VERSION`; preparing again with the same options is a no-op, and a folder made with
other options (or by another version) is an error that says so. The corpus is built in a
temporary sibling folder and renamed into place.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sparsernn.data import speech, speech_layout
from sparsernn.data.arrays import check_option_names, keyword_names
from sparsernn.data.batch import DataSplits
from sparsernn.data.feature_cache import cache_key
from sparsernn.data.paths import data_home
from sparsernn.data.synthetic_speech_corpus import MANIFEST, espeak_available, synthesize, write_corpus
from sparsernn.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_PITCHES",
    "DEFAULT_RATES",
    "DEFAULT_VOICES",
    "FORMAT_VERSION",
    "MANIFEST",
    "build_synthetic_speech",
    "default_root",
    "espeak_available",
    "prepare_synthetic_speech",
    "synthesize",
]

DEFAULT_VOICES = (
    "en-us", "en-us+f3", "en-us-nyc+m2", "en-us-nyc+f2",
    "en-gb", "en-gb+f4", "en-gb-x-rp+m1", "en-gb-x-rp+f1",
    "en-gb-scotland+m3", "en-gb-scotland+f5", "en-gb-x-gbclan+m4", "en-gb-x-gbclan+f2",
    "en-gb-x-gbcwmd+m5", "en-gb-x-gbcwmd+f3", "en-029+m6", "en-029+f4",
)  # fmt: skip
DEFAULT_RATES = (130, 170, 210)  # words per minute
DEFAULT_PITCHES = (30, 50, 70)  # espeak-ng pitch, 0..99
FORMAT_VERSION = 3  # 3: takes, speaker splits, a noise mixture at an SNR (2: a faint white floor)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_lists(options: dict[str, Any]) -> None:
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


def _check_takes(options: dict[str, Any]) -> None:
    if not (_is_int(options["seed"]) and options["seed"] >= 0):
        raise ConfigError(f"seed must be an integer >= 0, got {options['seed']!r}")
    if not (_is_int(options["takes"]) and 1 <= options["takes"] <= 100):
        raise ConfigError(f"takes must be an integer in 1..100, got {options['takes']!r}")
    snr = options["noise_snr_db"]
    if (
        isinstance(snr, str)
        or not isinstance(snr, Sequence)
        or len(snr) != 2
        or not all(_is_number(v) for v in snr)
        or not -20 <= snr[0] <= snr[1] <= 80
    ):
        raise ConfigError(f"noise_snr_db must be a [low, high] range of dB within -20..80, got {snr!r}")
    jitter = options["speed_jitter"]
    if not (_is_number(jitter) and 0 <= jitter <= 0.3):
        raise ConfigError(f"speed_jitter must be a number in [0, 0.3], got {jitter!r}")


def _check(options: dict[str, Any]) -> dict[str, Any]:
    """Validate corpus options; return them as the JSON manifest (lists, plus the format version)."""
    _check_lists(options)
    _check_takes(options)
    fractions = (options["valid_fraction"], options["test_fraction"])
    if not all(_is_number(f) and 0 <= f < 1 for f in fractions) or sum(fractions) >= 1:
        raise ConfigError(
            f"valid_fraction and test_fraction must be in [0, 1) with a sum below 1, got {fractions}"
        )
    manifest = {k: list(v) if isinstance(v, Sequence) else v for k, v in options.items()}
    manifest["noise_snr_db"] = [float(v) for v in manifest["noise_snr_db"]]
    return manifest | {"speed_jitter": float(options["speed_jitter"]), "version": FORMAT_VERSION}


def check_corpus(corpus: Mapping[str, Any]) -> None:
    """ConfigError for a bad value among the corpus options ``corpus`` (the rest at their defaults).

    Examples
    --------
    >>> check_corpus({"takes": 2})
    >>> check_corpus({"takes": 0})
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: takes must be an integer in 1..100, got 0
    """
    _check(_defaults() | dict(corpus))


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
    takes: int = 2,
    noise_snr_db: Sequence[float] = (5.0, 30.0),
    speed_jitter: float = 0.08,
) -> Path:
    """Synthesize the corpus into ``root`` (see the module docstring) and return ``root``.

    ``root`` defaults to :func:`default_root` of the options. An existing corpus made with the
    same options is reused; a folder holding anything else is an error (nothing is overwritten).
    The defaults give 10 words × 16 voices × 3 rates × 3 pitches × 2 takes = 2,880 clips (about 80 s
    on two busy cores; made once and reused).

    Parameters
    ----------
    root : path, optional
        The corpus folder (empty, absent, or a corpus made with the same options).
    words, voices, rates, pitches : sequences
        Word folders (a-z), espeak-ng voices (``espeak-ng --voices=en``, ``+variant`` allowed), words
        per minute (80-450), espeak-ng pitches (0-99).
    seed : int
        Every random draw of the corpus (clips and speaker split).
    valid_fraction, test_fraction : float
        Fractions of the (voice, pitch) speakers in ``validation_list.txt`` / ``testing_list.txt``.
    takes : int
        Clips per (word, voice, pitch, rate), each with its own perturbation, placement and noise.
    noise_snr_db : (float, float)
        Range of the per-clip SNR of the background against the word, in dB.
    speed_jitter : float
        Largest relative speed (and pitch) change of a take, in [0, 0.3].

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "speech"
    >>> folder = prepare_synthetic_speech(root, words=("go",), voices=("en-us",), rates=(150, 200),
    ...                                   pitches=(50,))
    >>> sorted(p.name for p in (folder / "go").iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['en-us-p50-r150_nohash_0.wav', 'en-us-p50-r150_nohash_1.wav',
     'en-us-p50-r200_nohash_0.wav', 'en-us-p50-r200_nohash_1.wav']
    """
    options = dict(words=words, voices=voices, rates=rates, pitches=pitches, seed=seed, takes=takes)
    options |= dict(noise_snr_db=noise_snr_db, speed_jitter=speed_jitter)
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
        write_corpus(building, manifest)
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
    ``n_val`` draws a validation split from the corpus' validation speakers (``validation_list.txt``,
    disjoint from the training and test clips); ``val_fraction`` does not apply (ConfigError).

    Examples
    --------
    >>> import tempfile
    >>> corpus = {"words": ("yes", "no"), "voices": ("en-us", "en-gb"), "rates": (160,),
    ...           "pitches": (40, 60, 80), "takes": 1}
    >>> splits = build_synthetic_speech(seed=0, root=tempfile.mkdtemp() + "/c", corpus=corpus,
    ...                                 cache=False, n_val=2)
    >>> len(splits.train), len(splits.val), len(splits.test), splits.train[0][0].shape
    (8, 2, 2, torch.Size([101, 40]))
    """
    if "val_fraction" in options:
        raise ConfigError(
            "val_fraction does not apply to dataset 'synthetic_speech': its validation clips are the "
            "corpus' validation speakers; use n_val (at most their number of clips)"
        )
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
    found = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    if found == manifest:
        return True
    if found.get("version") != FORMAT_VERSION:
        raise DataError(
            f"{root}: holds a synthetic corpus of format version {found.get('version')}; this sparsernn "
            f"makes version {FORMAT_VERSION}: delete the folder or choose another root"
        )
    raise DataError(f"{root}: holds a synthetic corpus made with other options; choose another root")
