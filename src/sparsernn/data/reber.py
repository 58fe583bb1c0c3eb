"""The Reber grammar: an automaton, random walks, the embedded grammar and the Darji-Reber strings.

The standard (not embedded) Reber grammar is the automaton :data:`TRANSITIONS`: state 0 reads
``B``, the five inner states 1–5 each have two out-edges (the ten *inner edges*, letters
``T P S X T V X S P V`` in :data:`INNER_EDGES` order), state 6 reads ``E`` into the accepting
state 7. A random walk takes each branch with probability 1/2, so a string with k inner letters
has probability 2^-k. Shortest strings: ``BTXSE``, ``BPVVE``.

Darji's classification data (:func:`darji_strings`) adds eight blocks of invalid strings, walks on
the same topology with the thesis' own letters on the inner edges (:data:`DARJI_BLOCKS`).
:func:`darji_data` gives the train/test split either generated or read from the thesis' original
files (``reber_sequences.csv``, ``train_data.csv``, ``test_data.csv``; plain or gzipped), which
:func:`read_pairs` checks row by row (the readers live in :mod:`sparsernn.data.reber_files` and are
importable from here).

References
----------
A. S. Reber, "Implicit learning of artificial grammars", J. Verbal Learning and Verbal Behavior
6(6), 1967. S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural Computation 9(8),
1997 (the embedded grammar). H. Darji, "Investigating Sparsity in Recurrent Neural Networks", Univ.
Passau, 2021, and its repository harshildarji/thesis (the Darji-Reber data).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from sparsernn._seed import Seed, numpy_rng
from sparsernn.data.reber_files import DARJI_FILE_NAMES as DARJI_FILE_NAMES
from sparsernn.data.reber_files import load_darji_split as load_darji_split
from sparsernn.data.reber_files import load_darji_strings as load_darji_strings
from sparsernn.data.reber_files import read_pairs as read_pairs
from sparsernn.data.reber_grammar import _EXIT as _EXIT
from sparsernn.data.reber_grammar import INNER_EDGES as INNER_EDGES
from sparsernn.data.reber_grammar import REBER_LETTERS as REBER_LETTERS
from sparsernn.data.reber_grammar import TRANSITIONS as TRANSITIONS
from sparsernn.data.reber_grammar import accepts as accepts
from sparsernn.data.reber_grammar import is_valid as is_valid
from sparsernn.data.reber_grammar import is_valid_embedded as is_valid_embedded
from sparsernn.data.reber_grammar import transitions as transitions
from sparsernn.errors import ConfigError

#: Shortest string, B and E included, in the Darji-Reber dataset.
DARJI_MIN_LENGTH = 11


@dataclass(frozen=True)
class InvalidBlock:
    """One block of Darji's invalid strings: walks on the Reber topology with ``letters`` on its edges.

    ``letters`` labels :data:`INNER_EDGES` in order (two distinct letters per state); ``size`` is the
    block's share of the 12,500 invalid strings.
    """

    name: str
    letters: str
    size: int


#: The thesis' eight invalid blocks, in its block order, with its letters and sizes. The letters are
#: published: every invalid string of the thesis' ``reber_sequences.csv`` is a walk with its block's
#: letters (listed in ../shared/data/darji-thesis/README.md; tests check them against the strings).
#: Four blocks move Reber letters to other edges, four use other letters; no block can produce a
#: valid Reber string at any length (tests check this on the product automaton).
DARJI_BLOCKS: tuple[InvalidBlock, ...] = (
    InvalidBlock("swap_first", "PTSXTVXSPV", 1500),  # T and P swapped on the first branch
    InvalidBlock("swap_exits", "TPSXTVPVXS", 1500),  # the letter pairs of the two states before E exchanged
    InvalidBlock("swap_loops", "TPXSVTXSPV", 500),  # letters swapped at both self-loop states
    InvalidBlock("swap_loop_states", "TPTVSXXSPV", 2000),  # the letter pairs of the loop states exchanged
    InvalidBlock("letters_acdf", "ACDFJIHGLK", 2000),
    InvalidBlock("letters_mnoq_wv", "MNOQWVURZY", 2000),
    InvalidBlock("letters_mnoq_ca", "MNOQCAURFD", 1500),
    InvalidBlock("letters_qomn_ca", "QOMNCAURFD", 1500),
)


_BLOCK_AUTOMATA = tuple((block.name, transitions(block.letters)) for block in DARJI_BLOCKS)


def darji_block_of(s: str) -> str:
    """Which part of Darji's data ``s`` belongs to: ``"valid"`` for a Reber string, else the name of
    the first block of :data:`DARJI_BLOCKS` whose letters ``s`` walks, else ``"other"``.

    The thesis' data holds eight strings that are walks of two blocks; they are named by the earlier one.

    Examples
    --------
    >>> darji_block_of("BTXSE"), darji_block_of("BPXSE"), darji_block_of("BAFGE"), darji_block_of("BE")
    ('valid', 'swap_first', 'letters_acdf', 'other')
    """
    if is_valid(s):
        return "valid"
    return next((name for name, table in _BLOCK_AUTOMATA if accepts(table, s)), "other")


def _walks(
    letters: str, n: int, rng: np.random.Generator, min_length: int = 0, *, distinct: bool = False
) -> list[str]:
    """The walks of length >= ``min_length`` among ``n`` random walks on the ``letters`` topology.

    In draw order, first occurrences only if ``distinct``; vectorised over the walks under way.
    """
    nxt = np.zeros((_EXIT, 2), dtype=np.int64)
    code = np.zeros((_EXIT, 2), dtype=np.uint8)
    for i, ((state, to), letter) in enumerate(zip(INNER_EDGES, letters)):
        nxt[state, i % 2], code[state, i % 2] = to, ord(letter)
    out = np.zeros((n, 32), dtype=np.uint8)  # (walk, step); 0 = after the walk's end, dropped below
    inner = np.zeros(n, dtype=np.int64)  # number of inner letters of each walk
    active, state = np.arange(n), np.ones(n, dtype=np.int64)
    step = 0
    while active.size:
        if step == out.shape[1]:
            out = np.concatenate([out, np.zeros_like(out)], axis=1)
        branch = rng.integers(0, 2, size=active.size)
        out[active, step] = code[state, branch]
        state = nxt[state, branch]
        step += 1
        done = state == _EXIT
        inner[active[done]] = step
        active, state = active[~done], state[~done]
    # Filter (and deduplicate) before decoding: most walks are too short or repeat a short string,
    # and building Python strings is the cost.
    kept = np.ascontiguousarray(out[inner + 2 >= min_length, :step])
    if distinct:
        _, first = np.unique(kept.view(f"V{step}").ravel(), return_index=True)
        kept = kept[np.sort(first)]
    raw = kept.tobytes()
    return [
        "B" + raw[i * step : (i + 1) * step].rstrip(b"\0").decode("ascii") + "E" for i in range(len(kept))
    ]


TAIL = 0.73  # a walk's chance of one more inner letter beyond the shortest walks' 3 (about)
MAX_WALKS = 200_000_000  # random walks generate may draw (about a minute and a half)


def _acceptance(min_length: int) -> float:
    """About the share of random walks with at least ``min_length`` letters."""
    return TAIL ** max(min_length - 5, 0)


def _expected_walks(n: int, min_length: int) -> float:
    """About how many random walks it takes to find ``n`` strings of at least ``min_length`` letters."""
    return n / _acceptance(min_length)


def _batch(missing: int, found: int, drawn: int, min_length: int) -> int:
    """How many walks to draw for ``missing`` more strings, given ``found`` of ``drawn`` so far."""
    rate = max(found / drawn, 0.01) if drawn else _acceptance(min_length)  # before any draw: a guess
    return min(int(missing / rate * 1.1) + 64, 1_000_000)  # caps memory at about 32 MB a batch


def _check_count(value: object, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def generate(n: int, *, seed: Seed, min_length: int = 0) -> list[str]:
    """``n`` valid Reber strings (duplicates possible), random walks kept when ``len >= min_length``.

    Lengths count B and E. Long minimums are slow: a walk has at least k inner letters with
    probability about 0.73^k (0.18 for ``min_length=11``); one that would take more than
    :data:`MAX_WALKS` walks is refused.

    Examples
    --------
    >>> strings = generate(3, seed=0, min_length=11)
    >>> [len(s) >= 11 and is_valid(s) for s in strings]
    [True, True, True]
    """
    n, min_length = _check_count(n, "n"), _check_count(min_length, "min_length")
    if n > MAX_WALKS:
        raise ConfigError(f"n={n} strings exceed the {MAX_WALKS:.0e} random walks generate draws at most")
    if n and _expected_walks(n, min_length) > MAX_WALKS:  # it would run for hours, or for ever
        longest = 5 + int(math.log(MAX_WALKS / n) / math.log(1 / TAIL))
        raise ConfigError(
            f"min_length={min_length} needs about {_expected_walks(n, min_length):.1e} random walks for n={n} "
            f"(a walk has k inner letters with probability about {TAIL}^k); expected at most {longest}"
        )
    rng = numpy_rng(seed)
    out: list[str] = []
    drawn = 0
    while len(out) < n:
        size = _batch(n - len(out), len(out), drawn, min_length)
        out += _walks(REBER_LETTERS, size, rng, min_length)
        drawn += size
    return out[:n]


def embedded(n: int, *, seed: Seed) -> list[str]:
    """``n`` embedded Reber strings: ``B T <reber> T E`` or ``B P <reber> P E``, each branch 1/2.

    Examples
    --------
    >>> [is_valid_embedded(s) for s in embedded(4, seed=0)]
    [True, True, True, True]
    """
    rng = numpy_rng(seed)
    inner = generate(n, seed=rng)
    sides = rng.choice(["T", "P"], size=len(inner))
    return [f"B{side}{s}{side}E" for side, s in zip(sides, inner)]


def darji_block_sizes(n_valid: int = 12_500) -> tuple[int, ...]:
    """Sizes of the invalid blocks for ``n_valid`` valid strings: the 12,500 sizes scaled to sum to it.

    Each size is ``size * n_valid / 12500`` rounded by largest remainder (ties to the earlier block).

    Examples
    --------
    >>> darji_block_sizes()
    (1500, 1500, 500, 2000, 2000, 2000, 1500, 1500)
    >>> darji_block_sizes(100)
    (12, 12, 4, 16, 16, 16, 12, 12)
    """
    n_valid = _check_count(n_valid, "n_valid", 1)
    total = sum(block.size for block in DARJI_BLOCKS)
    exact = [block.size * n_valid / total for block in DARJI_BLOCKS]
    sizes = [int(x) for x in exact]  # floors; then one more for the largest remainders
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - sizes[i]), i))
    for i in order[: n_valid - sum(sizes)]:
        sizes[i] += 1
    return tuple(sizes)


def _unique_walks(letters: str, count: int, rng: np.random.Generator, seen: set[str]) -> list[str]:
    """``count`` new strings (not in ``seen``, which grows) of length >= DARJI_MIN_LENGTH."""
    want_valid = letters == REBER_LETTERS
    out: list[str] = []
    drawn = 0
    while len(out) < count:
        size = _batch(count - len(out), len(out), drawn, DARJI_MIN_LENGTH)
        drawn += size
        for s in _walks(letters, size, rng, DARJI_MIN_LENGTH, distinct=True):
            # The automaton has the last word: a block string that happened to be valid is re-drawn.
            if s not in seen and is_valid(s) == want_valid:
                seen.add(s)
                out.append(s)
                if len(out) == count:
                    break
    return out


def darji_strings(*, seed: Seed, n_valid: int = 12_500) -> list[tuple[str, int]]:
    """The Darji-Reber dataset before the split: ``(string, label)``, label 1 = valid Reber string.

    First ``n_valid`` distinct valid strings (random walks, length >= 11 with B and E), then the
    invalid blocks of :data:`DARJI_BLOCKS` in order, sized by :func:`darji_block_sizes` (12,500 in
    all by default: 25,000 pairs). Every string is distinct across the whole dataset (so no string
    sits in both train and test). Every string is run through the automaton as it is drawn: a
    valid string labelled 0 (or the reverse) is re-drawn, so labels always match :func:`is_valid`.

    Examples
    --------
    >>> pairs = darji_strings(seed=0, n_valid=50)
    >>> len(pairs), sum(label for _, label in pairs), all(len(s) >= 11 for s, _ in pairs)
    (100, 50, True)
    """
    rng = numpy_rng(seed)
    seen: set[str] = set()
    n_valid = _check_count(n_valid, "n_valid", 1)
    strings = _unique_walks(REBER_LETTERS, n_valid, rng, seen)
    for block, size in zip(DARJI_BLOCKS, darji_block_sizes(n_valid)):
        strings += _unique_walks(block.letters, size, rng, seen)
    return [(s, int(i < n_valid)) for i, s in enumerate(strings)]


def darji_split(
    pairs: Sequence[tuple[str, int]], *, seed: Seed, train_fraction: float = 0.75
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Shuffle ``pairs`` with ``seed`` and split them: the first ``round(train_fraction * n)`` train.

    Examples
    --------
    >>> train, test = darji_split([(str(i), i % 2) for i in range(8)], seed=0)
    >>> len(train), len(test), sorted(train + test) == sorted((str(i), i % 2) for i in range(8))
    (6, 2, True)
    """
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, Real) or not 0 < train_fraction < 1:
        raise ConfigError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    order = numpy_rng(seed).permutation(len(pairs))
    shuffled = [pairs[i] for i in order]
    n_train = round(train_fraction * len(pairs))
    if pairs and n_train in (0, len(pairs)):
        empty = "training" if n_train == 0 else "test"
        raise ConfigError(
            f"train_fraction={train_fraction} of {len(pairs)} strings leaves the {empty} split empty; "
            "expected more strings"
        )
    return shuffled[:n_train], shuffled[n_train:]


#: Where :func:`darji_data` takes the strings from.
DARJI_SOURCES = ("files", "generated")


def darji_data(
    *,
    seed: Seed,
    n_valid: int = 12_500,
    train_fraction: float = 0.75,
    source: str = "generated",
    path: str | os.PathLike[str] | None = None,
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The Darji-Reber train and test pairs, generated (the default) or the thesis' own.

    ``source="generated"``: :func:`darji_split` of :func:`darji_strings` with ``seed``.
    ``source="files"``: :func:`load_darji_split` of the folder ``path`` (the thesis' files fix the
    strings and the split, so ``seed``, ``n_valid`` and ``train_fraction`` play no part).

    Examples
    --------
    >>> train, test = darji_data(seed=0, n_valid=20)
    >>> len(train), len(test)
    (30, 10)
    >>> darji_data(seed=0, source="files")
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: source 'files' needs path: the folder of the thesis' files (train_data.csv, test_data.csv)
    """
    if source == "generated":
        if path is not None:
            raise ConfigError("path is read with source 'files' only; source is 'generated'")
        return darji_split(
            darji_strings(seed=seed, n_valid=n_valid), seed=seed, train_fraction=train_fraction
        )
    if source != "files":
        raise ConfigError(f"unknown source {source!r}; choose from {', '.join(DARJI_SOURCES)}")
    if path is None:
        raise ConfigError(
            "source 'files' needs path: the folder of the thesis' files (train_data.csv, test_data.csv)"
        )
    if n_valid != 12_500 or train_fraction != 0.75:
        raise ConfigError(
            "n_valid and train_fraction apply to source 'generated'; the files fix the data and split"
        )
    return load_darji_split(path)
