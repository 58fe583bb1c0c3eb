"""Writing the synthetic speech corpus: espeak-ng utterances, clips, speaker splits, noise files.

The corpus and its options are described in :mod:`sparsernn.data.synthetic_speech`; one clip's
rendering in :mod:`sparsernn.data.synthetic_speech_mix`. Here: :func:`synthesize` runs espeak-ng,
:func:`speaker_splits` assigns speakers to the lists, :func:`write_corpus` writes a folder.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sparsernn.data import audio, speech_layout
from sparsernn.data.synthetic_speech_mix import ClipParts, render_clip
from sparsernn.errors import ConfigError, DataError

MANIFEST = "sparsernn_synthetic.json"
NOISE_SECONDS = 10.0
_SPLIT_SALT = 0x5BEA  # the speaker shuffle has a stream of its own
Key = tuple[str, str, int, int]  # (word, voice, pitch, rate)


def _slug(voice: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", voice).strip("-")


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


def _speak_all(manifest: dict[str, Any]) -> dict[Key, np.ndarray]:
    """Every (word, voice, pitch, rate) utterance; espeak-ng runs in parallel processes."""
    keys = list(
        itertools.product(manifest["words"], manifest["voices"], manifest["pitches"], manifest["rates"])
    )
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        spoken = pool.map(lambda k: synthesize(k[0], voice=k[1], rate=k[3], pitch=k[2]), keys)
        return dict(zip(keys, spoken))


def clip_name(voice: str, pitch: int, rate: int, take: int) -> str:
    """The file name of a clip (the speaker part is ``<voice>-p<pitch>``).

    Examples
    --------
    >>> clip_name("en-gb+f3", 60, 200, 1)
    'en-gb-f3-p60-r200_nohash_1.wav'
    """
    return f"{_slug(voice)}-p{pitch}-r{rate}_nohash_{take}.wav"


def _clip_parts(spoken: dict[Key, np.ndarray], manifest: dict[str, Any], key: Key, take: int) -> ClipParts:
    """The parts of one clip, from a generator of its own (seed and the clip's indices).

    The babble is made of the other words as spoken by the speakers of the clip's own split, so no
    voice of the test speakers is heard in a training clip.
    """
    word, voice, pitch, _ = key
    indices = [manifest[k].index(v) for k, v in zip(("words", "voices", "pitches", "rates"), key)]
    rng = np.random.default_rng([manifest["seed"], *indices, take])
    split = speaker_splits(manifest)
    babble = [u for (w, v, p, _), u in spoken.items() if w != word and split[v, p] == split[voice, pitch]]
    return render_clip(
        spoken[key],
        rng,
        snr_db=tuple(manifest["noise_snr_db"]),
        speed_jitter=manifest["speed_jitter"],
        babble_pool=babble,
    )


def speaker_splits(manifest: dict[str, Any]) -> dict[tuple[str, int], str]:
    """Speaker ``(voice, pitch)`` → ``"test"``, ``"val"`` or ``"train"`` (seeded shuffle; module doc).

    Examples
    --------
    >>> manifest = {"voices": ["en-us", "en-gb"], "pitches": [30, 50, 70], "seed": 0,
    ...             "test_fraction": 0.2, "valid_fraction": 0.1}
    >>> sorted(speaker_splits(manifest).values())
    ['test', 'train', 'train', 'train', 'train', 'val']
    """
    speakers = list(itertools.product(manifest["voices"], manifest["pitches"]))
    order = np.random.default_rng([manifest["seed"], _SPLIT_SALT]).permutation(len(speakers))
    n_test, n_val = (round(manifest[k] * len(speakers)) for k in ("test_fraction", "valid_fraction"))
    split = ["test"] * n_test + ["val"] * n_val + ["train"] * (len(speakers) - n_test - n_val)
    return {speakers[i]: split[rank] for rank, i in enumerate(order)}


def _write_clips(folder: Path, manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Write every clip; return the clip paths (``word/file.wav``) of the test and validation speakers."""
    import soundfile

    spoken = _speak_all(manifest)
    jobs = [(key, take) for key in spoken for take in range(manifest["takes"])]
    splits = speaker_splits(manifest)
    lists: dict[str, list[str]] = {"test": [], "val": [], "train": []}
    for word in manifest["words"]:
        (folder / word).mkdir()

    def write(job: tuple[Key, int]) -> None:
        (word, voice, pitch, rate), take = job
        clip = _clip_parts(spoken, manifest, job[0], take).clip
        path = folder / word / clip_name(voice, pitch, rate, take)
        soundfile.write(path, clip, audio.SAMPLE_RATE, subtype="PCM_16")

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(write, jobs))  # every clip has its own generator: the order does not matter
    for (word, voice, pitch, rate), take in jobs:
        lists[splits[voice, pitch]].append(f"{word}/{clip_name(voice, pitch, rate, take)}")
    return lists


def write_corpus(folder: Path, manifest: dict[str, Any]) -> None:
    """Write a checked corpus ``manifest`` into the empty ``folder`` (clips, lists, noises, manifest)."""
    import soundfile

    lists = _write_clips(folder, manifest)
    for name, split in ((speech_layout.TESTING_LIST, "test"), (speech_layout.VALIDATION_LIST, "val")):
        (folder / name).write_text("".join(f"{e}\n" for e in sorted(lists[split])), encoding="utf-8")
    (folder / speech_layout.NOISE_FOLDER).mkdir()
    rng = np.random.default_rng([manifest["seed"], _SPLIT_SALT, 1])
    for kind, noise in _noises(rng, NOISE_SECONDS).items():
        soundfile.write(
            folder / speech_layout.NOISE_FOLDER / f"{kind}_noise.wav",
            noise,
            audio.SAMPLE_RATE,
            subtype="PCM_16",
        )
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
