import json

import numpy as np
import pytest
import soundfile

from sparsernn.data import synthetic_speech
from sparsernn.data.registry import build, prepare
from sparsernn.data.speech_layout import read_layout
from sparsernn.data.synthetic_speech import MANIFEST, prepare_synthetic_speech
from sparsernn.errors import ConfigError, DataError

needs_espeak = pytest.mark.skipif(
    not synthetic_speech.espeak_available(), reason="espeak-ng not installed (apt-get install espeak-ng)"
)
SMALL = {
    "words": ("yes", "no", "stop"),
    "voices": ("en-us", "en-gb+f3"),
    "rates": (140, 200),
    "pitches": (40, 60),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not synthetic_speech.espeak_available():
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    return prepare_synthetic_speech(tmp_path_factory.mktemp("synth") / "corpus", **SMALL, seed=3)


@needs_espeak
def test_layout_and_clips(corpus):
    layout = read_layout(corpus)
    assert sorted(layout.files) == ["no", "stop", "yes"]
    assert all(len(paths) == 8 for paths in layout.files.values())  # 2 voices x 2 rates x 2 pitches
    assert "yes/en-gb-f3-p60-r200_nohash_0.wav" in layout.files["yes"]
    for path in layout.files["stop"]:
        samples, rate = soundfile.read(corpus / path)
        info = soundfile.info(corpus / path)
        assert (rate, info.channels, len(samples), info.subtype) == (16000, 1, 16000, "PCM_16")
        assert 0.25 < np.abs(samples).max() < 0.95  # placed and scaled word, not silence
    assert [p.name for p in layout.noise_files] == ["pink_noise.wav", "white_noise.wav"]


@needs_espeak
def test_lists_are_stratified_and_disjoint(corpus):
    layout = read_layout(corpus)
    assert not layout.validation & layout.testing
    for word in ("yes", "no", "stop"):
        assert sum(p.startswith(f"{word}/") for p in layout.testing) == round(0.2 * 8)
        assert sum(p.startswith(f"{word}/") for p in layout.validation) == round(0.1 * 8)


@needs_espeak
def test_pink_noise_has_a_falling_spectrum(corpus):
    pink, _ = soundfile.read(corpus / "_background_noise_" / "pink_noise.wav")
    white, _ = soundfile.read(corpus / "_background_noise_" / "white_noise.wav")
    assert len(pink) == len(white) == 160000
    for noise, low_over_high in ((pink, (10, None)), (white, (0.5, 2.0))):
        spectrum = np.abs(np.fft.rfft(noise)) ** 2
        freqs = np.fft.rfftfreq(len(noise), 1 / 16000)
        ratio = (
            spectrum[(freqs > 50) & (freqs < 200)].mean() / spectrum[(freqs > 4000) & (freqs < 6000)].mean()
        )
        lo, hi = low_over_high
        assert ratio > lo and (hi is None or ratio < hi)


@needs_espeak
def test_reuse_and_refusals(corpus, tmp_path):
    manifest = json.loads((corpus / MANIFEST).read_text())
    assert manifest["voices"] == list(SMALL["voices"]) and manifest["seed"] == 3
    before = (corpus / "yes" / "en-us-p40-r140_nohash_0.wav").stat().st_mtime_ns
    assert prepare_synthetic_speech(corpus, **SMALL, seed=3) == corpus
    assert (corpus / "yes" / "en-us-p40-r140_nohash_0.wav").stat().st_mtime_ns == before
    with pytest.raises(DataError, match="made with other options"):
        prepare_synthetic_speech(corpus, **SMALL, seed=4)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("mine")
    with pytest.raises(DataError, match="not an empty folder"):
        prepare_synthetic_speech(tmp_path / "busy", **SMALL)
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["file.txt"]


@needs_espeak
def test_reproducible_with_the_same_seed(tmp_path):
    tiny = {"words": ("go",), "voices": ("en-us",), "rates": (150, 190), "pitches": (50,)}
    a = prepare_synthetic_speech(tmp_path / "a", **tiny, seed=1)
    b = prepare_synthetic_speech(tmp_path / "b", **tiny, seed=1)
    for name in ("go/en-us-p50-r150_nohash_0.wav", "testing_list.txt", "_background_noise_/pink_noise.wav"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


@needs_espeak
def test_builds_through_the_registry(corpus):
    splits = build("synthetic-speech", seed=0, root=corpus, corpus={**SMALL, "seed": 3}, n_test=4)
    assert splits.name == "synthetic_speech" and splits.num_classes == 3
    assert len(splits.train) == 3 * (8 - 2 - 1) and len(splits.test) == 4
    assert splits.train[0][0].shape == (101, 40)
    mfcc = build("synthetic_speech", seed=0, root=corpus, corpus={**SMALL, "seed": 3}, features="mfcc")
    assert mfcc.input_size == 13
    assert prepare("synthetic-speech", corpus, **SMALL, seed=3) == corpus


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
     {"valid_fraction": 0.5, "test_fraction": 0.5}],
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
    monkeypatch.setattr(synthetic_speech.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="espeak-ng command is not installed"):
        prepare_synthetic_speech(
            tmp_path / "c", words=("yes",), voices=("en-us",), rates=(150,), pitches=(50,)
        )


@needs_espeak
def test_concurrent_prepare_of_the_same_corpus(tmp_path, monkeypatch):
    # Two sweep workers preparing the same corpus at once: the one that finishes second must use the
    # first one's corpus instead of failing on the rename (a bug seen with --workers 2).
    options = dict(words=("go",), voices=("en-us",), rates=(150,), pitches=(50,))
    root = tmp_path / "speech"
    write = synthetic_speech._write_corpus

    def write_while_another_finishes(building, manifest):
        write(building, manifest)
        monkeypatch.setattr(synthetic_speech, "_write_corpus", write)
        prepare_synthetic_speech(root, **options)  # the other worker wins the race

    monkeypatch.setattr(synthetic_speech, "_write_corpus", write_while_another_finishes)
    assert prepare_synthetic_speech(root, **options) == root
    assert json.loads((root / MANIFEST).read_text())["words"] == ["go"]
    assert [p.name for p in tmp_path.iterdir()] == ["speech"]  # no staging folder left behind
