import itertools
import json

import numpy as np
import pytest
import soundfile

from sparsernn.data import audio, splits, synthetic_speech, synthetic_speech_corpus
from sparsernn.data.registry import build, prepare
from sparsernn.data.speech_layout import read_layout
from sparsernn.data.synthetic_speech import FORMAT_VERSION, MANIFEST, prepare_synthetic_speech
from sparsernn.data.synthetic_speech_corpus import clip_name, speaker_splits
from sparsernn.errors import ConfigError, DataError

needs_espeak = pytest.mark.skipif(
    not synthetic_speech.espeak_available(), reason="espeak-ng not installed (apt-get install espeak-ng)"
)
WORDS = ("yes", "no", "stop")
SMALL = {
    "words": WORDS,
    "voices": ("en-us", "en-gb+f3"),
    "rates": (140,),
    "pitches": (30, 45, 60, 75, 90),  # 10 speakers: 2 test, 1 validation, 7 training
    "takes": 2,
}
PER_WORD = 2 * 1 * 5 * 2  # voices x rates x pitches x takes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not synthetic_speech.espeak_available():
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    return prepare_synthetic_speech(tmp_path_factory.mktemp("synth") / "corpus", **SMALL, seed=3)


def _speaker(path):
    """``word/<voice>-p<pitch>-r<rate>_nohash_<take>.wav`` -> ``<voice>-p<pitch>``."""
    return path.split("/")[1].rsplit("-r", 1)[0]


def test_default_corpus_size_and_speaker_split():
    defaults = synthetic_speech._defaults()
    sizes = [len(defaults[k]) for k in ("words", "voices", "rates", "pitches")]
    assert np.prod(sizes) * defaults["takes"] == 2880  # >= 2,000 clips
    manifest = synthetic_speech._check(defaults)
    counts = {s: list(speaker_splits(manifest).values()).count(s) for s in ("train", "val", "test")}
    assert counts == {"train": 33, "val": 5, "test": 10}  # 48 (voice, pitch) speakers
    assert counts["test"] * 3 * 2 * 10 == 600  # test clips: speakers x rates x takes x words


@needs_espeak
def test_every_default_voice_speaks():
    for voice in synthetic_speech.DEFAULT_VOICES:
        assert len(synthetic_speech.synthesize("go", voice=voice, rate=170, pitch=50)) > 1000


@needs_espeak
def test_layout_and_clip_count(corpus):
    layout = read_layout(corpus)
    assert sorted(layout.files) == sorted(WORDS)
    for word, paths in layout.files.items():
        expected = itertools.product(SMALL["voices"], SMALL["pitches"], SMALL["rates"], range(2))
        assert sorted(paths) == sorted(f"{word}/{clip_name(*key)}" for key in expected)
        assert len(paths) == PER_WORD
    assert "yes/en-gb-f3-p60-r140_nohash_1.wav" in layout.files["yes"]
    for path in layout.files["stop"]:
        samples, rate = soundfile.read(corpus / path)
        info = soundfile.info(corpus / path)
        assert (rate, info.channels, len(samples), info.subtype) == (16000, 1, 16000, "PCM_16")
    assert [p.name for p in layout.noise_files] == ["pink_noise.wav", "white_noise.wav"]


@needs_espeak
def test_lists_hold_whole_speakers_and_are_disjoint(corpus):
    layout = read_layout(corpus)
    train = {p for paths in layout.files.values() for p in paths} - layout.validation - layout.testing
    assert not layout.validation & layout.testing
    speakers = [{_speaker(p) for p in part} for part in (train, layout.validation, layout.testing)]
    assert [len(s) for s in speakers] == [7, 1, 2]
    assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])
    for word in WORDS:  # every speaker says every word: the lists are balanced per word
        assert sum(p.startswith(f"{word}/") for p in layout.testing) == 2 * 1 * 2
        assert sum(p.startswith(f"{word}/") for p in layout.validation) == 1 * 1 * 2


def _quietest_window_rms(clip, window=800):  # 50 ms
    frames = clip[: len(clip) // window * window].reshape(-1, window)
    return float(np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).min())


@needs_espeak
def test_clips_have_a_noise_floor_and_an_snr_in_range(corpus):
    manifest = json.loads((corpus / MANIFEST).read_text())
    spoken = synthetic_speech_corpus._speak_all(manifest)
    for key, take in itertools.product(spoken, range(2)):
        word, voice, pitch, rate = key
        samples = audio.read_wav(corpus / word / clip_name(voice, pitch, rate, take))
        assert _quietest_window_rms(samples) > 10 ** (-70 / 20)  # never digital silence
        parts = synthetic_speech_corpus._clip_parts(spoken, manifest, key, take)
        assert np.abs(samples - parts.clip).max() <= 1.5 / 32768  # the file is word + noise
        start, stop = parts.span
        snr = 10 * np.log10(audio.power(parts.word[start:stop]) / audio.power(parts.noise))
        assert 5.0 - 1e-3 <= snr <= 30.0 + 1e-3


@needs_espeak
def test_reuse_and_refusals(corpus, tmp_path):
    manifest = json.loads((corpus / MANIFEST).read_text())
    assert manifest["voices"] == list(SMALL["voices"]) and manifest["seed"] == 3
    assert manifest["version"] == FORMAT_VERSION and manifest["noise_snr_db"] == [5.0, 30.0]
    before = (corpus / "yes" / "en-us-p30-r140_nohash_0.wav").stat().st_mtime_ns
    assert prepare_synthetic_speech(corpus, **SMALL, seed=3) == corpus
    assert (corpus / "yes" / "en-us-p30-r140_nohash_0.wav").stat().st_mtime_ns == before
    with pytest.raises(DataError, match="made with other options"):
        prepare_synthetic_speech(corpus, **SMALL, seed=4)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("mine")
    with pytest.raises(DataError, match="not an empty folder"):
        prepare_synthetic_speech(tmp_path / "busy", **SMALL)
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["file.txt"]


def test_a_corpus_of_an_older_format_is_a_clear_error(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / MANIFEST).write_text(json.dumps({"version": 2, "words": ["yes"]}))
    with pytest.raises(DataError, match="format version 2; this sparsernn makes version 3: delete"):
        prepare_synthetic_speech(old, words=("yes",), voices=("en-us",), rates=(150,), pitches=(50,))


@needs_espeak
def test_reproducible_with_the_same_seed(tmp_path):
    tiny = {"words": ("go", "no"), "voices": ("en-us",), "rates": (150, 190), "pitches": (50,)}
    a = prepare_synthetic_speech(tmp_path / "a", **tiny, seed=1)
    b = prepare_synthetic_speech(tmp_path / "b", **tiny, seed=1)
    c = prepare_synthetic_speech(tmp_path / "c", **tiny, seed=2)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 2 * 2 * 2 + 2 + 2 + 1  # clips, lists, noises, manifest
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "go" / "en-us-p50-r150_nohash_0.wav").read_bytes() != (
        c / "go" / "en-us-p50-r150_nohash_0.wav"
    ).read_bytes()


@needs_espeak
def test_builds_through_the_registry(corpus):
    splits_ = build("synthetic-speech", seed=0, root=corpus, corpus={**SMALL, "seed": 3}, n_test=4)
    assert splits_.name == "synthetic_speech" and splits_.num_classes == 3
    assert len(splits_.train) == 3 * 7 * 2 and len(splits_.test) == 4
    assert splits_.train[0][0].shape == (101, 40)
    mfcc = build("synthetic_speech", seed=0, root=corpus, corpus={**SMALL, "seed": 3}, features="mfcc")
    assert mfcc.input_size == 13
    assert prepare("synthetic-speech", corpus, **SMALL, seed=3) == corpus


def _file_of_each_item(corpus, dataset, layout):
    """The clip file of every item, matched by its (unnormalized) features."""
    paths = [p for word in WORDS for p in layout.files[word]]
    clips = np.stack([audio.fit_length(audio.read_wav(corpus / p)) for p in paths])
    table = audio.features(clips).reshape(len(paths), -1)
    found = []
    for x, y in dataset:
        distance = np.abs(table - x.numpy().reshape(1, -1)).max(axis=1)
        best = int(distance.argmin())
        assert distance[best] < 1e-3 and np.sort(distance)[1] > 1e-2  # one clip, unambiguously
        assert paths[best].split("/")[0] == WORDS[y]
        found.append(paths[best])
    return found


@needs_espeak
def test_validation_split_is_disjoint_from_train_and_test_by_file_name(corpus):
    layout = read_layout(corpus)
    options = dict(root=corpus, corpus={**SMALL, "seed": 3}, normalize=False, cache=False)
    train, val, test = splits(build("synthetic_speech", seed=0, n_val=6, **options))
    names = {
        part: _file_of_each_item(corpus, d, layout)
        for part, d in (("train", train), ("val", val), ("test", test))
    }
    assert sorted(names["val"]) == sorted(layout.validation) and sorted(names["test"]) == sorted(
        layout.testing
    )
    assert not set(names["train"]) & (layout.validation | layout.testing)
    assert len(set(names["train"])) == len(names["train"]) == 3 * PER_WORD - 6 - 12
    assert splits(build("synthetic_speech", seed=0, **options)).val is None  # n_val=0: none
    with pytest.raises(ConfigError, match="n_val=7 is more than the 6 items available"):
        build("synthetic_speech", seed=0, n_val=7, **options)
    with pytest.raises(ConfigError, match="val_fraction does not apply to dataset 'synthetic_speech'"):
        build("synthetic_speech", seed=0, val_fraction=0.1, **options)


@needs_espeak
def test_bad_voice_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="espeak-ng failed for voice 'xx-nonexistent'"):
        prepare_synthetic_speech(
            tmp_path / "c", words=("yes",), voices=("xx-nonexistent",), rates=(150,), pitches=(50,)
        )
    assert not (tmp_path / "c").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "options",
    [{"words": "yes"}, {"words": ("Yes",)}, {"rates": (20,)}, {"pitches": (120,)}, {"voices": ()},
     {"valid_fraction": 0.5, "test_fraction": 0.5}, {"takes": 0}, {"takes": 1.5}, {"seed": -1},
     {"noise_snr_db": (30, 5)}, {"noise_snr_db": (5,)}, {"noise_snr_db": "loud"}, {"speed_jitter": 0.5}],
)  # fmt: skip
def test_bad_options(tmp_path, options):
    with pytest.raises(ConfigError):
        prepare_synthetic_speech(tmp_path / "c", **options)


def test_unknown_options_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        build("synthetic_speech", seed=0, root=tmp_path, colour="red")
    with pytest.raises(ConfigError, match="unknown option 'speed'"):
        build("synthetic_speech", seed=0, root=tmp_path, corpus={"speed": 3})


def test_missing_espeak_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic_speech_corpus.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="espeak-ng command is not installed"):
        prepare_synthetic_speech(
            tmp_path / "c", words=("yes",), voices=("en-us",), rates=(150,), pitches=(50,)
        )


@needs_espeak
def test_concurrent_prepare_of_the_same_corpus(tmp_path, monkeypatch):
    # Two sweep workers preparing the same corpus at once: the one that finishes second must use the
    # first one's corpus instead of failing on the rename (a bug seen with --workers 2).
    options = dict(words=("go",), voices=("en-us",), rates=(150,), pitches=(50,), takes=1)
    root = tmp_path / "speech"
    write = synthetic_speech.write_corpus

    def write_while_another_finishes(building, manifest):
        write(building, manifest)
        monkeypatch.setattr(synthetic_speech, "write_corpus", write)
        prepare_synthetic_speech(root, **options)  # the other worker wins the race

    monkeypatch.setattr(synthetic_speech, "write_corpus", write_while_another_finishes)
    assert prepare_synthetic_speech(root, **options) == root
    assert json.loads((root / MANIFEST).read_text())["words"] == ["go"]
    assert [p.name for p in tmp_path.iterdir()] == ["speech"]  # no staging folder left behind
