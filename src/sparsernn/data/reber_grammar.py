"""The standard Reber grammar as an automaton: validity of strings and of embedded strings.

State 0 reads ``B``, the five inner states 1–5 each have two out-edges (the ten *inner edges*,
letters ``T P S X T V X S P V`` in :data:`INNER_EDGES` order), state 6 reads ``E`` into the
accepting state 7. :func:`transitions` builds the same topology with other letters (the invalid
blocks of the Darji-Reber data). Everything here is re-exported by :mod:`sparsernn.data.reber`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sparsernn.errors import ConfigError, DataError

_START, _EXIT, _ACCEPT = 0, 6, 7

#: The Reber automaton: state -> {letter: next state}; start state 0, accepting state 7.
TRANSITIONS: Mapping[int, Mapping[str, int]] = MappingProxyType(
    {
        0: MappingProxyType({"B": 1}),
        1: MappingProxyType({"T": 2, "P": 3}),
        2: MappingProxyType({"S": 2, "X": 4}),
        3: MappingProxyType({"T": 3, "V": 5}),
        4: MappingProxyType({"X": 3, "S": 6}),
        5: MappingProxyType({"P": 4, "V": 6}),
        6: MappingProxyType({"E": 7}),
    }
)

#: The ten inner edges (from, to), two per inner state; a letter string of length 10 labels them.
INNER_EDGES: tuple[tuple[int, int], ...] = tuple(
    (state, nxt) for state in range(1, _EXIT) for nxt in TRANSITIONS[state].values()
)

#: The Reber letters on :data:`INNER_EDGES`.
REBER_LETTERS = "".join(letter for state in range(1, _EXIT) for letter in TRANSITIONS[state])


def transitions(letters: str) -> Mapping[int, Mapping[str, int]]:
    """The automaton of the Reber topology with ``letters`` on :data:`INNER_EDGES` (B and E kept).

    Examples
    --------
    >>> transitions(REBER_LETTERS) == TRANSITIONS
    True
    """
    if not isinstance(letters, str) or len(letters) != len(INNER_EDGES):
        raise ConfigError(f"letters must be a string of {len(INNER_EDGES)} letters, got {letters!r}")
    table: dict[int, dict[str, int]] = {_START: {"B": 1}, _EXIT: {"E": _ACCEPT}}
    for (state, nxt), letter in zip(INNER_EDGES, letters):
        if letter in table.setdefault(state, {}):
            raise ConfigError(f"letters {letters!r} give state {state} two edges labelled {letter!r}")
        table[state][letter] = nxt
    return MappingProxyType({state: MappingProxyType(table[state]) for state in sorted(table)})


def accepts(table: Mapping[int, Mapping[str, int]], s: str) -> bool:
    """Whether the automaton ``table`` (start 0, accepting 7) accepts ``s``.

    Examples
    --------
    >>> accepts(TRANSITIONS, "BTXSE"), accepts(TRANSITIONS, "BTXSXE")
    (True, False)
    """
    if not isinstance(s, str):
        raise DataError(f"expected a string, got {type(s).__name__}")
    state: int | None = _START
    for letter in s:
        state = table.get(state, {}).get(letter)
        if state is None:
            return False
    return state == _ACCEPT


def is_valid(s: str) -> bool:
    """Whether ``s`` is a string of the standard Reber grammar (run through :data:`TRANSITIONS`).

    Examples
    --------
    >>> is_valid("BTSSXXTVVE"), is_valid("BPVPXVPXVPXVVE"), is_valid("BTSSXXTVE")
    (True, True, False)
    """
    return accepts(TRANSITIONS, s)


def is_valid_embedded(s: str) -> bool:
    """Whether ``s`` is an embedded Reber string: ``B T <reber> T E`` or ``B P <reber> P E``.

    Examples
    --------
    >>> is_valid_embedded("BTBTXSETE"), is_valid_embedded("BTBTXSEPE")
    (True, False)
    """
    if not isinstance(s, str):
        raise DataError(f"expected a string, got {type(s).__name__}")
    return len(s) >= 4 and s[0] == "B" and s[1] in "TP" and s[-2:] == s[1] + "E" and is_valid(s[2:-2])
