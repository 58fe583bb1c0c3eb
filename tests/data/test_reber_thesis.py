"""The Darji-Reber data against the thesis' own (``../shared/data/darji-thesis/``), and its file readers.

The thesis' tests skip where the shared folder is absent (CI has it); the readers' error handling is
checked on small files written here.
"""

from __future__ import annotations

import csv
import gzip
import shutil
from pathlib import Path

import pytest
from scipy.stats import ks_2samp

import sparsernn as sr
from sparsernn.data import reber
from sparsernn.data.text import darji_reber_dataset, encode
from sparsernn.errors import ConfigError, DataError

THESIS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "darji-thesis"
# The README's letters on the ten inner edges, in the thesis' block order.
THESIS_LETTERS = [
    "PTSXTVXSPV",
    "TPSXTVPVXS",
    "TPXSVTXSPV",
    "TPTVSXXSPV",
    "ACDFJIHGLK",
    "MNOQWVURZY",
    "MNOQCAURFD",
    "QOMNCAURFD",
]
THESIS_SIZES = [1500, 1500, 500, 2000, 2000, 2000, 1500, 1500]


def _parse(path: Path) -> list[tuple[str, int]]:
    """A reference reader: the csv module on the gzipped file, no checks."""
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(row["string"], int(row["label"])) for row in rows]


@pytest.fixture(scope="module")
def thesis() -> dict[str, list[tuple[str, int]]]:
    if not (THESIS / "reber_strings.csv.gz").is_file():
        pytest.skip(f"the thesis' data is not at {THESIS.resolve()} (CI has it)")
    names = {"strings": "reber_strings", "train": "reber_train", "test": "reber_test"}
    return {role: _parse(THESIS / f"{name}.csv.gz") for role, name in names.items()}


@pytest.fixture(scope="module")
def generated() -> list[tuple[str, int]]:
    return reber.darji_strings(seed=0)


def _blocks(pairs: list[tuple[str, int]]) -> list[list[str]]:
    """The valid strings, then the eight invalid blocks, by the thesis' sizes."""
    out, start = [[s for s, _ in pairs[:12_500]]], 12_500
    for size in THESIS_SIZES:
        out.append([s for s, _ in pairs[start : start + size]])
        start += size
    assert start == len(pairs)
    return out


def test_blocks_have_the_thesis_letters_in_its_order():
    assert [b.letters for b in reber.DARJI_BLOCKS] == THESIS_LETTERS
    assert [b.size for b in reber.DARJI_BLOCKS] == THESIS_SIZES


def test_the_letters_are_those_of_the_thesis_strings(thesis):
    pairs = thesis["strings"]
    assert len(pairs) == 25_000 and [label for _, label in pairs] == [1] * 12_500 + [0] * 12_500
    valid, *blocks = _blocks(pairs)
    assert all(reber.is_valid(s) for s in valid)
    for block, strings in zip(reber.DARJI_BLOCKS, blocks):
        table = reber.transitions(block.letters)
        assert all(reber.accepts(table, s) and not reber.is_valid(s) for s in strings), block.name


def test_darji_block_of_names_every_thesis_string_by_its_block(thesis):
    names = [reber.darji_block_of(s) for s, _ in thesis["strings"]]
    expected = ["valid"] * 12_500 + [b.name for b in reber.DARJI_BLOCKS for _ in range(b.size)]
    differ = [(name, want) for name, want in zip(names, expected) if name != want]
    # the eight strings that occur in two blocks (README) are named by the earlier block, both times
    assert differ == [("letters_mnoq_wv", "letters_mnoq_ca")] * 8


def test_every_generated_block_is_a_walk_with_the_thesis_letters(generated):
    assert [label for _, label in generated] == [1] * 12_500 + [0] * 12_500
    valid, *blocks = _blocks(generated)
    assert all(reber.is_valid(s) for s in valid)
    for letters, size, strings in zip(THESIS_LETTERS, THESIS_SIZES, blocks):
        table = reber.transitions(letters)
        assert len(strings) == size == len(set(strings))
        assert all(reber.accepts(table, s) and len(s) >= 11 for s in strings), letters


def test_length_distributions_per_block_match_the_thesis(thesis, generated):
    theirs, ours = _blocks(thesis["strings"]), _blocks(generated)
    for k, (a, b) in enumerate(zip(theirs, ours)):
        assert min(map(len, a)) == min(map(len, b)) == 11, k
        result = ks_2samp([len(s) for s in a], [len(s) for s in b])
        assert result.pvalue > 0.001, (k, round(float(result.statistic), 4))


def test_the_loader_returns_the_thesis_split_exactly(thesis):
    train, test = reber.load_darji_split(THESIS)
    assert (len(train), len(test)) == (18_750, 6_250)
    assert train == thesis["train"] and test == thesis["test"]
    assert reber.load_darji_strings(THESIS) == thesis["strings"]
    assert reber.darji_data(seed=3, source="files", path=str(THESIS)) == (train, test)


def test_the_loader_reads_the_thesis_file_names_plain_or_gzipped(thesis, tmp_path):
    shared = {"reber_strings": "reber_sequences", "reber_train": "train_data", "reber_test": "test_data"}
    plain, gzipped = tmp_path / "plain", tmp_path / "gzipped"
    plain.mkdir(), gzipped.mkdir()
    for ours, theirs in shared.items():
        shutil.copy(THESIS / f"{ours}.csv.gz", gzipped / f"{theirs}.csv.gz")
        with gzip.open(THESIS / f"{ours}.csv.gz", "rb") as src, open(plain / f"{theirs}.csv", "wb") as dst:
            shutil.copyfileobj(src, dst)
    for folder in (plain, gzipped):
        assert reber.load_darji_split(folder) == (thesis["train"], thesis["test"])
        assert reber.load_darji_strings(folder) == thesis["strings"]


def test_the_dataset_and_the_registry_read_the_files(thesis):
    splits = darji_reber_dataset(seed=0, source="files", path=str(THESIS))
    assert (len(splits.train), len(splits.test)) == (18_750, 6_250)
    s, label = thesis["test"][17]
    x, y = splits.test[17]
    assert x.tolist() == encode(s).tolist() and y == label
    built = sr.data.build("darji_reber", seed=1, source="files", path=str(THESIS))
    assert [built.train[i][1] for i in range(50)] == [label for _, label in thesis["train"][:50]]


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"empty file; expected a header"),
        ("string,label\n", r"no rows after the header"),
        ("text,label\nBTXSE,1\n", r"no column string in the header; expected string, label"),
        ("string\nBTXSE\n", r"no column label in the header"),
        ("string,label\nBTXSE,1\nBPVVE,2\n", r"data.csv(.gz)?, line 3: label '2'; expected 0 or 1"),
        ("string,label\nBTXSE,yes\n", r"line 2: label 'yes'; expected 0 or 1"),
        (
            "string,label\nBTX5E,0\n",
            r"line 2: string 'BTX5E' has the character '5'; expected letters A-Z only",
        ),
        ("string,label\nbtxse,0\n", r"has the character 'b'"),
        ("string,label\nTXSE,0\n", r"line 2: string 'TXSE' does not start with B and end with E"),
        ("string,label\n,0\n", r"string '' does not start with B"),
        ("string,label\nBTXSE,0\n", r"line 2: label 0, but 'BTXSE' is a Reber string"),
        ("string,label\nBPTXSE,1\n", r"line 2: label 1, but 'BPTXSE' is not a Reber string"),
        ("string,label\nBTXSE,1,9\n", r"line 2: 3 fields; the header has 2"),
        ("string,label\nBTXSE,1\n\n", r"line 3: 0 fields; the header has 2"),
    ],
)
def test_malformed_files_get_one_line_errors(tmp_path, text, message):
    for name in ("data.csv", "data.csv.gz"):
        with pytest.raises(DataError, match=message) as info:
            reber.read_pairs(_write(tmp_path / name, text))
        assert "\n" not in str(info.value)


def test_extra_columns_and_a_byte_order_mark_are_accepted(tmp_path):
    path = _write(tmp_path / "data.csv", "\ufeff,label,string\n0,1,BTXSE\n1,0,BPTXSE\n")
    assert reber.read_pairs(path) == [("BTXSE", 1), ("BPTXSE", 0)]


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"nothing.csv: no such file"):
        reber.read_pairs(tmp_path / "nothing.csv")
    (tmp_path / "bad.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=r"bad.csv.gz: not a readable CSV file"):
        reber.read_pairs(tmp_path / "bad.csv.gz")
    whole = gzip.compress(b"string,label\n" + b"BTXSE,1\n" * 1000)
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut.csv.gz: not a readable CSV file"):
        reber.read_pairs(tmp_path / "cut.csv.gz")
    (tmp_path / "latin.csv").write_bytes(b"string,label\nB\xe9E,0\n")
    with pytest.raises(DataError, match=r"latin.csv: not a readable CSV file"):
        reber.read_pairs(tmp_path / "latin.csv")


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        _write(tmp_path / name, text)
    return tmp_path


TRAIN, TEST = "string,label\nBTXSE,1\nBPTXSE,0\n", "string,label\nBPVVE,1\n"


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing: no such folder; expected the thesis' Reber files"):
        reber.load_darji_split(tmp_path / "missing")
    folder = tmp_path / "a"
    folder.mkdir()
    _write(folder / "train_data.csv", TRAIN)
    with pytest.raises(DataError, match=r"no test_data.csv \(nor test_data.csv.gz, reber_test.csv"):
        reber.load_darji_split(folder)
    _write(folder / "test_data.csv", TEST)
    assert reber.load_darji_split(folder) == ([("BTXSE", 1), ("BPTXSE", 0)], [("BPVVE", 1)])
    _write(folder / "test_data.csv.gz", TEST)
    with pytest.raises(DataError, match=r"both test_data.csv and test_data.csv.gz hold the test; keep one"):
        reber.load_darji_split(folder)
    (folder / "test_data.csv.gz").unlink()
    _write(folder / "reber_sequences.csv", "string,label\nBTXSE,1\nBPTXSE,0\nBTSXSE,1\n")
    with pytest.raises(DataError, match=r"train_data.csv and test_data.csv do not hold exactly the rows"):
        reber.load_darji_split(folder)
    _write(folder / "reber_sequences.csv", "string,label\nBPVVE,1\nBTXSE,1\nBPTXSE,0\n")
    assert len(reber.load_darji_split(folder)[0]) == 2
    with pytest.raises(ConfigError, match=r"path must be a folder name, got int"):
        reber.load_darji_split(3)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"source": "thesis"}, r"unknown source 'thesis'; choose from files, generated"),
        ({"source": "files"}, r"source 'files' needs path"),
        ({"path": "somewhere"}, r"path is read with source 'files' only"),
        ({"source": "files", "path": "x", "n_valid": 100}, r"n_valid and train_fraction apply to source"),
    ],
)
def test_source_options(options, message):
    with pytest.raises(ConfigError, match=message):
        reber.darji_data(seed=0, **options)


def test_source_files_through_the_dataset_builder(tmp_path):
    folder = _folder(tmp_path, {"train_data.csv": TRAIN, "test_data.csv.gz": TEST})
    splits = sr.data.build("darji-reber", seed=0, source="files", path=str(folder))
    assert (len(splits.train), len(splits.test)) == (2, 1)
    assert splits.test[0][0].tolist() == encode("BPVVE").tolist()
    generated = sr.data.build("darji_reber", seed=0, n_valid=20)
    explicit = sr.data.build("darji_reber", seed=0, n_valid=20, source="generated")
    assert [generated.train[i][1] for i in range(30)] == [explicit.train[i][1] for i in range(30)]


def test_the_new_option_leaves_existing_run_hashes_alone():
    from sparsernn.studies.config import make_config, run_hash

    # computed before the option existed
    assert run_hash(make_config({"study": "s", "data": {"name": "darji_reber"}})) == "67a94680f793"
    small = {"study": "s", "data": {"name": "darji_reber", "options": {"n_valid": 2000}}}
    assert run_hash(make_config(small)) == "af9cfc9a1dd9"
    files = {"study": "s", "data": {"name": "darji_reber", "options": {"source": "files", "path": "x"}}}
    assert run_hash(make_config(files)) != "67a94680f793"


def test_recipes_choose_the_source_and_are_checked_before_running():
    from sparsernn.studies.recipe import expand, parse_recipe

    def recipe(options: dict) -> dict:
        return {"study": "s", "data": {"name": "darji_reber", "options": options}, "model": {"cell": "gru"}}

    (config,) = expand(parse_recipe(recipe({"source": "files", "path": str(THESIS)})))
    assert config.data.options == {"source": "files", "path": str(THESIS)}
    with pytest.raises(
        ConfigError, match=r"data.options: option source of dataset 'darji_reber' must be one of"
    ):
        expand(parse_recipe(recipe({"source": "thesis"})))
    with pytest.raises(ConfigError, match=r"option path of dataset 'darji_reber' must be a folder path"):
        expand(parse_recipe(recipe({"source": "files", "path": ""})))
