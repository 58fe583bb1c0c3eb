"""Reber grammar: the automaton against a regular expression, walks, embedded strings, Darji data."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest

from sparsernn.data import reber
from sparsernn.errors import ConfigError, DataError

# Derived by hand from the graph: reach state 4 by TS*X or PT*VP, loop 4 -> 5 -> 4 by XT*VP, leave by S;
# reach state 5 by TS*XXT*V or PT*V, loop by PXT*V, leave by V.
REBER_RE = re.compile(r"B(?:(?:TS*X|PT*VP)(?:XT*VP)*S|(?:TS*XXT*V|PT*V)(?:PXT*V)*V)E")

VALID = ["BTXSE", "BPVVE", "BTSSXXTVVE", "BPTVPXVVE", "BPVPXVPXVPXVVE", "BTXXVPSE", "BPTTTVPSE"]
INVALID = ["", "B", "E", "BE", "TXSE", "BTXS", "BTXSEE", "BBTXSE", "BTSSXXTVE", "btxse", "BTXSE ", "BPVVX"]


@pytest.mark.parametrize("s", VALID)
def test_hand_written_valid(s):
    assert reber.is_valid(s) and REBER_RE.fullmatch(s)


@pytest.mark.parametrize("s", INVALID)
def test_hand_written_invalid(s):
    assert not reber.is_valid(s) and not REBER_RE.fullmatch(s)


def test_automaton_agrees_with_the_regex_on_every_short_string():
    letters = "TPSXV"
    for k in range(8):
        for inner in itertools.product(letters, repeat=k):
            s = "B" + "".join(inner) + "E"
            assert reber.is_valid(s) == bool(REBER_RE.fullmatch(s)), s


def test_transition_table_is_the_reber_graph():
    assert reber.REBER_LETTERS == "TPSXTVXSPV"
    assert len(reber.INNER_EDGES) == 10
    assert reber.transitions(reber.REBER_LETTERS) == reber.TRANSITIONS
    with pytest.raises(TypeError):
        reber.TRANSITIONS[1]["Q"] = 2  # read-only


def test_generate_gives_valid_strings_with_min_length_deterministically():
    strings = reber.generate(2000, seed=1, min_length=11)
    assert len(strings) == 2000
    assert all(reber.is_valid(s) and len(s) >= 11 for s in strings)
    assert strings == reber.generate(2000, seed=1, min_length=11)
    assert strings != reber.generate(2000, seed=2, min_length=11)
    assert reber.generate(0, seed=0) == []


def test_walks_take_each_branch_with_probability_half():
    strings = reber.generate(20_000, seed=0)
    counts = Counter(strings)
    # BTXSE and BPVVE have 3 inner letters: probability 1/8 each; first branch T/P is 1/2
    for s in ("BTXSE", "BPVVE"):
        assert abs(counts[s] / 20_000 - 1 / 8) < 0.01  # ~4.3 standard deviations
    assert abs(sum(s[1] == "T" for s in strings) / 20_000 - 0.5) < 0.015
    assert abs(counts["BTSXSE"] / 20_000 - 1 / 16) < 0.008


def test_embedded():
    strings = reber.embedded(2000, seed=3)
    assert all(reber.is_valid_embedded(s) and reber.is_valid(s[2:-2]) for s in strings)
    assert abs(sum(s[1] == "T" for s in strings) / 2000 - 0.5) < 0.05
    assert strings == reber.embedded(2000, seed=3)
    assert reber.is_valid_embedded("BPBPVVEPE") and reber.is_valid_embedded("BTBTXSETE")
    for s in ("BTBTXSEPE", "BTXSE", "BTBTXSTE", "BXBTXSEXE", "BT", ""):
        assert not reber.is_valid_embedded(s)


def _common_word(letters: str) -> str | None:
    """A word accepted by both Reber and the block automaton (BFS on the product), or None."""
    a, b = reber.TRANSITIONS, reber.transitions(letters)
    start, seen, frontier = (0, 0), {(0, 0)}, [((0, 0), "")]
    while frontier:
        (p, q), word = frontier.pop(0)
        if (p, q) == (7, 7):
            return word
        for letter, p2 in a.get(p, {}).items():
            q2 = b.get(q, {}).get(letter)
            if q2 is not None and (p2, q2) not in seen:
                seen.add((p2, q2))
                frontier.append(((p2, q2), word + letter))
    del start
    return None


def test_no_block_can_produce_a_valid_string():
    assert _common_word(reber.REBER_LETTERS) == "BTXSE"  # the search finds words when there are any
    for block in reber.DARJI_BLOCKS:
        assert _common_word(block.letters) is None, block.name


def test_blocks_match_the_protocol():
    sizes = [b.size for b in reber.DARJI_BLOCKS]
    assert sizes == [1500, 1500, 500, 2000, 2000, 2000, 1500, 1500]
    assert len({b.name for b in reber.DARJI_BLOCKS}) == 8
    reber_letters = set(reber.REBER_LETTERS)
    assert sum(set(b.letters) <= reber_letters for b in reber.DARJI_BLOCKS) >= 3  # swaps of Reber letters
    assert sum(not set(b.letters) <= reber_letters for b in reber.DARJI_BLOCKS) >= 3  # other letters
    for block in reber.DARJI_BLOCKS:
        assert block.letters.isupper() and len(block.letters) == 10
        assert block.letters != reber.REBER_LETTERS


@pytest.fixture(scope="module")
def darji():
    return reber.darji_strings(seed=0)


def test_darji_strings_sizes_labels_and_blocks(darji):
    assert len(darji) == 25_000
    strings = [s for s, _ in darji]
    assert len(set(strings)) == 25_000  # unique across the whole dataset, hence within every block
    assert all(s[0] == "B" and s[-1] == "E" and len(s) >= 11 for s in strings)
    assert all(label == int(reber.is_valid(s)) for s, label in darji)
    assert [label for _, label in darji] == [1] * 12_500 + [0] * 12_500
    start = 12_500
    for block in reber.DARJI_BLOCKS:
        table = reber.transitions(block.letters)
        chunk = strings[start : start + block.size]
        assert len(chunk) == block.size and all(reber.accepts(table, s) for s in chunk), block.name
        start += block.size
    assert start == 25_000


def test_darji_block_of_names_every_generated_string_by_its_block(darji):
    expected = ["valid"] * 12_500 + [b.name for b in reber.DARJI_BLOCKS for _ in range(b.size)]
    assert [reber.darji_block_of(s) for s, _ in darji] == expected
    assert [reber.darji_block_of(s) for s in ["BTXSE", "BTXSX", "BXE", "", "btxse"]] == ["valid"] + [
        "other"
    ] * 4


def test_darji_strings_lengths_follow_the_walk(darji):
    lengths = Counter(len(s) for s, label in darji if label)
    assert min(lengths) == 11
    # few distinct short strings exist (about 1.47^k with k inner letters), so uniqueness pushes the
    # valid strings towards longer walks
    assert sum(n for length, n in lengths.items() if length <= 12) < 500
    assert max(lengths) > 30


def test_darji_strings_determinism_and_scaling():
    small = reber.darji_strings(seed=5, n_valid=80)
    assert small == reber.darji_strings(seed=5, n_valid=80)
    assert small != reber.darji_strings(seed=6, n_valid=80)
    assert len(small) == 160 and sum(label for _, label in small) == 80
    assert sum(reber.darji_block_sizes(80)) == 80


@pytest.mark.parametrize("n_valid", [1, 7, 99, 1000, 12_500, 20_000])
def test_block_sizes_scale_and_sum(n_valid):
    sizes = reber.darji_block_sizes(n_valid)
    assert sum(sizes) == n_valid
    for size, block in zip(sizes, reber.DARJI_BLOCKS):
        assert abs(size - block.size * n_valid / 12_500) < 1


def test_darji_split(darji):
    train, test = reber.darji_split(darji, seed=0)
    assert (len(train), len(test)) == (18_750, 6_250)
    assert sorted(train + test) == sorted(darji)
    assert reber.darji_split(darji, seed=0) == (train, test)
    assert reber.darji_split(darji, seed=1)[0] != train
    assert abs(sum(label for _, label in test) / 6_250 - 0.5) < 0.03  # shuffled: both classes in test
    assert [len(x) for x in reber.darji_split(darji[:10], seed=0, train_fraction=0.5)] == [5, 5]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: reber.generate(-1, seed=0), ConfigError, "n must be an integer >= 0"),
        (lambda: reber.generate(3, seed=0, min_length=2.5), ConfigError, "min_length"),
        (
            lambda: reber.generate(1, seed=0, min_length=120),
            ConfigError,
            r"min_length=120 needs about 5.2e\+15 random walks for n=1 .*; expected at most 65$",
        ),
        (lambda: reber.darji_strings(seed=0, n_valid=0), ConfigError, "n_valid must be an integer >= 1"),
        (
            lambda: reber.darji_data(seed=0, n_valid=1),
            ConfigError,
            "of 2 strings leaves the test split empty",
        ),
        (
            lambda: reber.darji_split([], seed=0, train_fraction=1.0),
            ConfigError,
            r"train_fraction .* \(0, 1\)",
        ),
        (lambda: reber.is_valid(5), DataError, "expected a string, got int"),
        (lambda: reber.is_valid_embedded(None), DataError, "expected a string"),
        (lambda: reber.transitions("TPS"), ConfigError, "10 letters"),
        (lambda: reber.transitions("TTSXTVXSPV"), ConfigError, "two edges labelled 'T'"),
        (lambda: reber.generate(3, seed="x"), TypeError, "seed"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
