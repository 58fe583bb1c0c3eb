import numpy as np
import pytest
import soundfile
import torch

from sparsernn.data import audio, speech
from sparsernn.data.speech import build_speech_commands
from sparsernn.data.speech_layout import read_layout, speech_classes
from sparsernn.errors import ConfigError, DataError

WORDS = ("yes", "no", "up")
LENGTHS = {"c0": 16000, "c1": 8000, "c2": 16000, "c3": 19200}  # c1 shorter, c3 longer than 1 s


def _tone(word_index, clip_index, n):
    t = np.arange(n) / 16000
    return 0.3 * np.sin(2 * np.pi * (300 + 150 * word_index + 40 * clip_index) * t)


@pytest.fixture
def speech_root(tmp_path):
    """Three command words plus 'bed' (an unknown word), four clips each, official lists, 1 s of noise."""
    for w, word in enumerate((*WORDS, "bed")):
        (tmp_path / word).mkdir()
        for c, (clip, n) in enumerate(LENGTHS.items()):
            soundfile.write(tmp_path / word / f"{clip}_nohash_0.wav", _tone(w, c, n), 16000, subtype="PCM_16")
    (tmp_path / "validation_list.txt").write_text("yes/c1_nohash_0.wav\nno/c1_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text(
        "yes/c2_nohash_0.wav\nno/c2_nohash_0.wav\nup/c2_nohash_0.wav\nbed/c2_nohash_0.wav\n"
    )
    (tmp_path / "_background_noise_").mkdir()
    noise = np.random.default_rng(0).standard_normal(16000) * 0.1
    soundfile.write(tmp_path / "_background_noise_" / "white_noise.wav", noise, 16000, subtype="PCM_16")
    return tmp_path


def _build(root, **options):
    kwargs = {"seed": 0, "root": root, "words": WORDS, "cache": False, "normalize": False} | options
    return build_speech_commands(**kwargs)


def _clean(root, path):
    return audio.features(audio.fit_length(audio.read_wav(root / path))[None])[0]


def test_splits_follow_the_official_lists(speech_root):
    splits = _build(speech_root)
    assert (len(splits.train), len(splits.test), splits.num_classes, splits.input_size) == (7, 3, 3, 40)
    assert splits.train.y.tolist() == [0, 0, 1, 1, 2, 2, 2]  # yes: c0 c3; no: c0 c3; up: c0 c1 c3
    assert splits.test.y.tolist() == [0, 1, 2]
    x, y = splits.test[1]
    assert x.shape == (101, 40) and x.dtype == torch.float32 and y == 1
    np.testing.assert_allclose(splits.test.x[1].numpy(), _clean(speech_root, "no/c2_nohash_0.wav"), atol=1e-5)
    valid = _build(speech_root, test_split="validation")
    assert valid.test.y.tolist() == [0, 1] and len(valid.train) == 7


def test_short_clips_are_zero_padded_and_long_ones_cut(speech_root):
    splits = _build(speech_root)
    short = audio.read_wav(speech_root / "up/c1_nohash_0.wav")
    long = audio.read_wav(speech_root / "up/c3_nohash_0.wav")
    assert len(short) == 8000 and len(long) == 19200
    padded = np.concatenate([short, np.zeros(8000, np.float32)])
    np.testing.assert_allclose(splits.train.x[5].numpy(), audio.features(padded[None])[0], atol=1e-5)
    np.testing.assert_allclose(splits.train.x[6].numpy(), audio.features(long[None, :16000])[0], atol=1e-5)


def test_unknown_and_silence_classes(speech_root):
    splits = _build(speech_root, unknown=True, silence=True)
    assert splits.num_classes == 5
    assert speech_classes(WORDS, unknown=True, silence=True) == ("yes", "no", "up", "_unknown_", "_silence_")
    train = splits.train.y.tolist()
    # mean word class: round(7 / 3) = 2 unknown clips (of bed's 3) and 2 silence clips
    assert train.count(3) == 2 and train.count(4) == 2 and len(train) == 11
    assert splits.test.y.tolist() == [0, 1, 2, 3, 4]
    silence_rows = splits.train.x[splits.train.y == 4]
    assert torch.isfinite(silence_rows).all()


def test_mfcc_features(speech_root):
    splits = _build(speech_root, features="mfcc", n_mfcc=13)
    assert splits.train.x.shape == (7, 101, 13) and splits.input_size == 13
    with pytest.raises(ConfigError, match="n_mfcc=50 is more than n_mels=40"):
        _build(speech_root, features="mfcc", n_mfcc=50)


def test_noise_at_snr_on_the_test_split_only(speech_root):
    clean = _build(speech_root)
    noisy = _build(speech_root, snr_db=5.0)
    assert torch.equal(noisy.train.x, clean.train.x)
    # one noise file of exactly 1 s: every window is the whole file, so the mixture is known
    noise = audio.read_wav(speech_root / "_background_noise_" / "white_noise.wav")
    clip = audio.fit_length(audio.read_wav(speech_root / "up/c2_nohash_0.wav"))
    mixed = audio.mix_at_snr(clip, noise, 5.0)
    assert 10 * np.log10(audio.power(clip) / audio.power(mixed - clip)) == pytest.approx(5.0, abs=1e-3)
    np.testing.assert_allclose(noisy.test.x[2].numpy(), audio.features(mixed[None])[0], atol=1e-4)
    both = _build(speech_root, snr_db=5.0, noise_on="both")
    assert not torch.equal(both.train.x, clean.train.x)


def test_same_seed_same_data(speech_root):
    options = {"unknown": True, "silence": True, "snr_db": 0.0, "n_train": 6}
    a, b = _build(speech_root, **options), _build(speech_root, **options)
    c = _build(speech_root, seed=1, **options)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert len(a.train) == 6
    assert not torch.equal(a.train.x, c.train.x)


def test_normalize_uses_training_statistics(speech_root):
    raw, norm = _build(speech_root), _build(speech_root, normalize=True)
    frames = norm.train.x.reshape(-1, 40)
    np.testing.assert_allclose(frames.mean(0).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(frames.std(0).numpy(), 1, atol=1e-4)
    mean, std = raw.train.x.reshape(-1, 40).mean(0), raw.train.x.reshape(-1, 40).std(0)
    np.testing.assert_allclose(norm.test.x.numpy(), ((raw.test.x - mean) / std).numpy(), atol=1e-4)


def test_feature_cache_hits_and_invalidation(speech_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = _build(speech_root, cache=True, cache_dir=cache)
    entries = sorted((cache / "v1").iterdir())
    assert len(entries) == 3 and all(p.suffix == ".safetensors" for p in entries)  # one per word folder

    calls = []
    real = audio.features
    monkeypatch.setattr(audio, "features", lambda *a, **k: calls.append(1) or real(*a, **k))
    second = _build(speech_root, cache=True, cache_dir=cache)
    assert calls == [] and torch.equal(first.train.x, second.train.x)

    soundfile.write(speech_root / "no/c0_nohash_0.wav", _tone(5, 5, 12000), 16000, subtype="PCM_16")
    third = _build(speech_root, cache=True, cache_dir=cache)
    assert len(calls) == 1  # only the changed folder is recomputed
    assert not torch.equal(third.train.x[2], first.train.x[2]) and torch.equal(
        third.train.x[0], first.train.x[0]
    )
    assert len(list((cache / "v1").iterdir())) == 4 and not list((cache / "v1").glob("*.tmp"))


def test_corrupt_wav_names_the_file(speech_root):
    (speech_root / "no" / "c3_nohash_0.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(DataError, match=r"no/c3_nohash_0\.wav: cannot read WAV file"):
        _build(speech_root)


def test_wrong_sample_rate_names_the_file(speech_root):
    soundfile.write(speech_root / "yes" / "c0_nohash_0.wav", np.zeros(8000), 8000)
    with pytest.raises(DataError, match=r"yes/c0_nohash_0\.wav: sample rate 8000 Hz"):
        _build(speech_root)


def test_list_naming_a_missing_clip(speech_root):
    with open(speech_root / "testing_list.txt", "a") as fh:
        fh.write("yes/ghost_nohash_0.wav\n")
    with pytest.raises(
        DataError, match=r"testing_list\.txt: line 5: 'yes/ghost_nohash_0\.wav' is not a clip"
    ):
        _build(speech_root)


def test_overlapping_lists(speech_root):
    (speech_root / "validation_list.txt").write_text("yes/c2_nohash_0.wav\n")
    with pytest.raises(DataError, match=r"also in validation_list\.txt"):
        read_layout(speech_root)


def test_missing_pieces(speech_root):
    with pytest.raises(DataError, match="no folder for word 'left'"):
        _build(speech_root, words=("yes", "left"))
    for path in (speech_root / "_background_noise_").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="no background noise WAVs"):
        _build(speech_root, silence=True)
    (speech_root / "testing_list.txt").unlink()
    with pytest.raises(DataError, match=r"testing_list\.txt: file not found"):
        _build(speech_root)


def test_all_words_when_words_is_none(speech_root):
    splits = _build(speech_root, words=None)
    assert splits.num_classes == 4 and speech_classes(None, root=speech_root) == ("bed", "no", "up", "yes")


@pytest.mark.parametrize(
    "options",
    [{"features": "fbank"}, {"test_split": "dev"}, {"noise_on": "valid"}, {"snr_db": float("nan")},
     {"unknown": "yes"}, {"words": "yes"}, {"words": ("yes", "yes")}, {"n_mels": 0}],
)  # fmt: skip
def test_bad_options(speech_root, options):
    with pytest.raises(ConfigError):
        _build(speech_root, **options)


def test_module_constants():
    assert speech.COMMANDS == ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


def test_frame_pool_averages_consecutive_frames(speech_root):
    kw = dict(seed=0, root=speech_root, words=("yes", "no"), cache=False, normalize=False)
    full, pooled = build_speech_commands(**kw), build_speech_commands(**kw, frame_pool=2)
    x, y = full.train[0][0], pooled.train[0][0]
    assert y.shape == (50, x.shape[1])
    assert torch.allclose(y, (x[0:100:2] + x[1:100:2]) / 2, atol=1e-6)
    with pytest.raises(ConfigError, match="frame_pool must be a positive integer"):
        build_speech_commands(**kw, frame_pool=0)
