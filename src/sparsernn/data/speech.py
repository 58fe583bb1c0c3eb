"""Google Speech Commands (v0.02 layout) → sequences of log-mel or MFCC frames.

Layout of ``root``: one folder per word holding 1-second 16 kHz mono WAVs, ``validation_list.txt``
and ``testing_list.txt`` (paths ``word/file.wav``, one per line), and ``_background_noise_/`` with
long noise recordings. The training split is every clip in neither list; the test split is the
clips of ``testing_list.txt`` (or of ``validation_list.txt`` with ``test_split="validation"``).

Labels: the ``words`` in the given order (default the ten commands *yes no up down left right on
off stop go*), then ``_unknown_`` (with ``unknown=True``: clips of all other words, subsampled to
the mean size of a word class) and ``_silence_`` (with ``silence=True``: as many clips as the mean
word class, each a random 1 s window of a random background-noise file times a gain uniform in
[0, 1]). Clips shorter than 1 s are zero-padded at the end, longer ones cut. ``snr_db`` mixes a
random window of a random background-noise file into each clip of the splits named by
``noise_on`` at that SNR (definition in :mod:`sparsernn.data.audio`). Every random choice comes
from ``seed``. Items: ``x`` float32 ``(T=101, F)``, ``y`` the class index.

Clean features of a word folder are cached on disk (see :mod:`sparsernn.data.feature_cache`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from sparsernn._seed import numpy_rng
from sparsernn.data import audio
from sparsernn.data.arrays import ArrayDataset, choice_option, count_option, subset_indices
from sparsernn.data.batch import DataSplits
from sparsernn.data.feature_cache import cache_key, cached_array, default_cache_dir
from sparsernn.data.paths import dataset_root
from sparsernn.data.speech_layout import (
    COMMANDS,
    NOISE_FOLDER,
    SILENCE,
    UNKNOWN,
    SpeechLayout,
    read_layout,
    speech_classes,
)
from sparsernn.data.validation import ValidatedSplits
from sparsernn.errors import ConfigError, DataError

NOISE_SPLITS = ("train", "test", "both")


def _in_split(layout: SpeechLayout, path: str, split: str, test_split: str) -> bool:
    if split == "test":
        return path in (layout.testing if test_split == "testing" else layout.validation)
    if split == "val":  # only with test_split="testing" (checked with the options)
        return path in layout.validation
    return path not in layout.validation and path not in layout.testing


Item = tuple[str | None, int]  # (clip path "word/file.wav", or None for a silence clip; label)


def _split_items(layout: SpeechLayout, split: str, opts: Mapping, rng: np.random.Generator) -> list[Item]:
    """``(path or None, label)`` items of one split; None marks a silence clip to synthesize."""
    classes = opts["classes"]
    words = [c for c in classes if c not in (UNKNOWN, SILENCE)]
    items = []
    for label, word in enumerate(words):
        items += [(p, label) for p in layout.files[word] if _in_split(layout, p, split, opts["test_split"])]
    per_class = max(1, round(len(items) / len(words)))
    if UNKNOWN in classes:
        others = [p for w, ps in layout.files.items() if w not in words for p in ps]
        others = [p for p in others if _in_split(layout, p, split, opts["test_split"])]
        keep = subset_indices(len(others), min(per_class, len(others)), rng, "unknown clips")
        items += [(others[i], classes.index(UNKNOWN)) for i in keep]
    if SILENCE in classes:
        items += [(None, classes.index(SILENCE))] * per_class
    if not items:
        raise DataError(f"{layout.root}: the {split} split holds no clips of {', '.join(words)}")
    return items


def _clip(layout: SpeechLayout, path: str) -> np.ndarray:
    return audio.fit_length(audio.read_wav(layout.root / path))


def _word_features(layout: SpeechLayout, word: str, opts: Mapping) -> np.ndarray:
    """Clean features of every clip of one word folder, in ``layout.files[word]`` order (cached)."""
    paths = layout.files[word]

    def compute() -> np.ndarray:
        return audio.features(np.stack([_clip(layout, p) for p in paths]), **opts["features"])

    if opts["cache_dir"] is None:
        return compute()
    stamps = [(p, (layout.root / p).stat().st_size, (layout.root / p).stat().st_mtime_ns) for p in paths]
    inputs = {
        "kind": "speech-word",
        "folder": str((layout.root / word).resolve()),
        "files": cache_key({"stamps": stamps}),  # changes when a clip is added, removed or rewritten
        **opts["features"],
    }
    return cached_array(opts["cache_dir"], inputs, compute)


def _load_noises(layout: SpeechLayout) -> list[np.ndarray]:
    if not layout.noise_files:
        raise DataError(
            f"{layout.root / NOISE_FOLDER}: no background noise WAVs; needed for silence and snr_db"
        )
    return [audio.read_wav(p) for p in layout.noise_files]


def _random_noise(noises: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    return audio.noise_window(noises[int(rng.integers(len(noises)))], audio.CLIP_SAMPLES, rng)


def _split_features(
    layout: SpeechLayout, items: list[Item], noisy: bool, opts: Mapping, rng: np.random.Generator
) -> np.ndarray:
    """Features ``(N, T, F)`` of the items. Clean clips come from the per-word cache when it is on;
    silence and noisy clips are synthesized in item order (so a seed always draws the same noise)."""
    width = opts["features"]["n_mels" if opts["features"]["kind"] == "logmel" else "n_mfcc"]
    out = np.empty((len(items), 1 + audio.CLIP_SAMPLES // audio.HOP_LENGTH, width), dtype=np.float32)
    pending: dict[int, np.ndarray] = {}
    from_cache: dict[str, list[int]] = {}

    def flush() -> None:
        if pending:
            out[list(pending)] = audio.features(np.stack(list(pending.values())), **opts["features"])
            pending.clear()

    for i, (path, _) in enumerate(items):
        if path is None:
            clip = _random_noise(opts["noises"], rng) * np.float32(rng.uniform(0.0, 1.0))
        elif noisy or opts["cache_dir"] is None:
            clip = _clip(layout, path)
        else:
            from_cache.setdefault(PurePosixPath(path).parent.name, []).append(i)
            continue
        pending[i] = (
            audio.mix_at_snr(clip, _random_noise(opts["noises"], rng), opts["snr_db"]) if noisy else clip
        )
        if len(pending) >= 512:  # bounded memory: featurize in chunks
            flush()
    flush()
    for word, indices in from_cache.items():
        table, row = _word_features(layout, word, opts), {p: k for k, p in enumerate(layout.files[word])}
        out[indices] = table[[row[items[i][0]] for i in indices]]
    return out


def _standardize(data: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Standardize each feature of every split with the mean and std of the training frames."""
    mean = data["train"].mean(dim=(0, 1), keepdim=True)
    std = data["train"].std(dim=(0, 1), keepdim=True).clamp_min(1e-6)
    return {split: (x - mean) / std for split, x in data.items()}


def _cache_dir(cache: bool, cache_dir: str | Path | None) -> Path | None:
    if not cache:
        return None
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def _options(**o) -> dict:
    """Check the builder options; return the internal option mapping."""
    kind = choice_option(o["features"], "features", audio.FEATURE_KINDS)
    n_mels, n_mfcc = (
        count_option(o["n_mels"], "n_mels", allow_none=False),
        count_option(o["n_mfcc"], "n_mfcc"),
    )
    if kind == "mfcc" and n_mfcc > n_mels:
        raise ConfigError(f"n_mfcc={n_mfcc} is more than n_mels={n_mels}; expected n_mfcc <= n_mels")
    snr_db = o["snr_db"]
    if snr_db is not None and (isinstance(snr_db, bool) or not np.isfinite(float(snr_db))):
        raise ConfigError(f"snr_db must be a finite number of decibels or None, got {snr_db!r}")
    for flag in ("unknown", "silence", "normalize", "cache"):
        if not isinstance(o[flag], bool):
            raise ConfigError(f"{flag} must be true or false, got {o[flag]!r}")
    words = o["words"]
    n_val = o["n_val"]
    if isinstance(n_val, bool) or not isinstance(n_val, int | np.integer) or n_val < 0:
        raise ConfigError(f"n_val must be an integer >= 0, got {n_val!r}")
    if n_val and o["test_split"] == "validation":
        raise ConfigError("n_val > 0 needs test_split='testing'; the validation list is the test split")
    return {
        "features": {"kind": kind, "n_mels": n_mels, "n_mfcc": n_mfcc},
        "words": None if words is None else speech_classes(words),  # checks the list
        "test_split": choice_option(o["test_split"], "test_split", ("testing", "validation")),
        "noise_on": choice_option(o["noise_on"], "noise_on", NOISE_SPLITS),
        "snr_db": None if snr_db is None else float(snr_db),
        "counts": {
            "train": count_option(o["n_train"], "n_train"),
            "test": count_option(o["n_test"], "n_test"),
            "val": int(n_val),
        },
        "cache_dir": _cache_dir(o["cache"], o["cache_dir"]),
        "frame_pool": count_option(o["frame_pool"], "frame_pool", allow_none=False),
    } | {k: o[k] for k in ("unknown", "silence", "normalize")}


def pool_frames(frames: torch.Tensor, k: int) -> torch.Tensor:
    """Average every ``k`` consecutive frames of ``(N, T, F)`` features: ``(N, T // k, F)`` (a last
    incomplete group is dropped), so a recurrent network reads ``k`` times fewer steps.

    Examples
    --------
    >>> pool_frames(torch.arange(10.0).reshape(1, 5, 2), 2).tolist()
    [[[1.0, 2.0], [5.0, 6.0]]]
    """
    if k == 1:
        return frames
    n, t, f = frames.shape
    if t < k:
        raise DataError(f"frame_pool={k} is longer than the clips' {t} frames")
    return frames[:, : t // k * k].reshape(n, t // k, k, f).mean(dim=2)


def _load_splits(name: str, root: Path, seed: int, opts: dict) -> DataSplits:
    """The splits of a Speech Commands folder for checked options (see :func:`build_speech_commands`)."""
    layout = read_layout(root)
    words = tuple(layout.files) if opts["words"] is None else opts["words"]
    missing = [w for w in words if w not in layout.files]
    if missing:
        raise DataError(
            f"{root}: no folder for word {missing[0]!r}; found {', '.join(layout.files) or 'none'}"
        )
    opts = opts | {"classes": speech_classes(words, unknown=opts["unknown"], silence=opts["silence"])}
    needs_noise = opts["silence"] or opts["snr_db"] is not None
    opts["noises"] = _load_noises(layout) if needs_noise else []
    rng, xs, ys = numpy_rng(seed), {}, {}
    splits = ("train", "test", "val") if opts["counts"]["val"] else ("train", "test")  # val drawn last
    for split in splits:
        items = _split_items(layout, split, opts, rng)
        items = [items[i] for i in subset_indices(len(items), opts["counts"][split], rng, f"n_{split}")]
        noise_split = "test" if split == "val" else split  # validation mimics the test conditions
        noisy = opts["snr_db"] is not None and opts["noise_on"] in (noise_split, "both")
        xs[split] = pool_frames(
            torch.from_numpy(_split_features(layout, items, noisy, opts, rng)), opts["frame_pool"]
        )
        ys[split] = torch.tensor([label for _, label in items], dtype=torch.long)
    if opts["normalize"]:
        xs = _standardize(xs)
    data = {split: ArrayDataset(xs[split], ys[split]) for split in splits}
    width = int(xs["train"].shape[-1])
    if "val" not in data:
        return DataSplits(name, data["train"], data["test"], len(opts["classes"]), input_size=width)
    return ValidatedSplits(
        name, data["train"], data["test"], len(opts["classes"]), input_size=width, val=data["val"]
    )


def build_speech_commands(
    *,
    seed: int,
    root: str | Path | None = None,
    features: str = "logmel",
    n_mels: int = 40,
    n_mfcc: int = 13,
    words: Sequence[str] | None = COMMANDS,
    unknown: bool = False,
    silence: bool = False,
    test_split: str = "testing",
    n_train: int | None = None,
    n_test: int | None = None,
    snr_db: float | None = None,
    noise_on: str = "test",
    normalize: bool = True,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    n_val: int = 0,
    frame_pool: int = 1,
) -> DataSplits:
    r"""Speech Commands splits of log-mel / MFCC frames (layout, labels and noise: module docstring).

    Parameters
    ----------
    seed : int
        Draws unknown/silence clips, the ``n_train`` / ``n_test`` subsets and the noise.
    root : path, optional
        The dataset folder; default ``data_home() / "speech_commands"``.
    features : {"logmel", "mfcc"}
        Frame features (:mod:`sparsernn.data.audio`); ``F = n_mels`` or ``n_mfcc``.
    words : sequence of str or None
        Word classes in label order; None for every word folder.
    unknown, silence : bool
        Add the ``_unknown_`` / ``_silence_`` classes.
    test_split : {"testing", "validation"}
        Which official list is the test split.
    n_train, n_test : int, optional
        Random subsets of the splits.
    snr_db : float, optional
        Mix background noise into the clips of ``noise_on`` ("test", "train" or "both") at this SNR.
    normalize : bool
        Standardize each feature with the training mean and std.
    cache, cache_dir : bool, path
        Cache clean features per word folder (default folder ``data_home() / "cache"``).
    n_val : int
        A validation split of ``n_val`` clips drawn from ``validation_list.txt`` (with
        ``test_split="testing"``; noisy when the test split is); 0: none. Read it with
        :func:`sparsernn.data.validation.splits`.
    frame_pool : int
        Average every ``frame_pool`` consecutive frames (:func:`pool_frames`): 2 gives 50 steps of
        20 ms instead of 101 of 10 ms, halving the cost of a recurrent pass and its gradient path.

    Examples
    --------
    >>> import numpy as np, pathlib, soundfile, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for word in ("yes", "no"):
    ...     (root / word).mkdir()
    ...     for k in range(3):
    ...         tone = np.sin(np.arange(16000) * (0.05 + 0.1 * k)) * 0.5
    ...         soundfile.write(root / word / f"s{k}_nohash_0.wav", tone, 16000)
    >>> _ = (root / "validation_list.txt").write_text("yes/s1_nohash_0.wav\n")
    >>> _ = (root / "testing_list.txt").write_text("yes/s2_nohash_0.wav\nno/s2_nohash_0.wav\n")
    >>> splits = build_speech_commands(seed=0, root=root, words=("yes", "no"), cache=False)
    >>> len(splits.train), len(splits.test), splits.train[0][0].shape, splits.num_classes
    (3, 2, torch.Size([101, 40]), 2)
    """
    root = dataset_root("speech_commands", root)
    opts = _options(
        features=features, n_mels=n_mels, n_mfcc=n_mfcc, words=words, unknown=unknown, silence=silence,
        test_split=test_split, n_train=n_train, n_test=n_test, snr_db=snr_db, noise_on=noise_on,
        normalize=normalize, cache=cache, cache_dir=cache_dir, n_val=n_val, frame_pool=frame_pool,
    )  # fmt: skip
    return _load_splits("speech_commands", root, seed, opts)
