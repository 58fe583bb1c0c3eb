"""Command-line overrides of a recipe: ``KEY=VALUE`` with a dotted key, applied before validation.

An override edits the recipe's mapping exactly as editing the YAML file would, so the runs, their
hashes and every error message are those of the edited file::

    sparsernn run smoke model.hidden_size=16 train.epochs=3 seeds=[0,1,2] "sweep.model.cell=[lstm,gru]"

- KEY is a dotted path into the recipe: ``train.epochs``, ``data.options.n_train``. Its first part must be
  a top-level recipe key (``study``, ``seeds``, ``model``, ...: the fields of
  :class:`~sparsernn.studies.recipe.Recipe`). Missing sections on the way are created.
- Under ``sweep`` the rest of the key is one sweep entry: ``sweep.model.cell=[lstm,gru]`` sets the
  recipe's ``sweep: {model.cell: [lstm, gru]}``.
- VALUE is YAML, read like a value in the file (safe YAML without anchors or aliases): ``3`` is an
  int, ``0.5`` and ``1.0e-3`` are floats, ``true`` a bool, ``[0, 1]`` a list, ``{a: 1}`` a mapping,
  ``null`` or nothing at all is null, anything else a string (quote it, ``'3'``, to keep a number a
  string). As in a file, YAML 1.1 reads ``1e-3`` (no dot) as a string, which typed fields such as
  ``train.lr`` convert to a number.
- A key that the recipe also sweeps (``model.cell=gru`` while ``sweep.model.cell`` exists; a field that
  an entry of ``sweep.data`` or of a ``sweep.cases...`` sets) would have no effect on those runs, so it is
  an error that says to override the sweep instead.
"""

from __future__ import annotations

import copy
import reprlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sparsernn.errors import ConfigError
from sparsernn.studies.safe_yaml import load_yaml

MAX_OVERRIDE_CHARS = 10_000  # a value typed on a command line; a longer one belongs in the file


def _shown(text: str) -> str:
    """An override as quoted in an error: at most 80 characters, on one line."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def override_list(overrides: str | Iterable[str]) -> list[str]:
    """The ``KEY=VALUE`` strings of ``overrides``: a list of them, or one string alone.

    Examples
    --------
    >>> override_list("train.epochs=3"), override_list(("seeds=[0, 1]", "train.lr=0.1"))
    (['train.epochs=3'], ['seeds=[0, 1]', 'train.lr=0.1'])
    >>> override_list([3])
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: overrides must be KEY=VALUE strings, e.g. ['train.epochs=3'], got 3
    """
    if isinstance(overrides, str):
        return [overrides]
    wrong = "overrides must be KEY=VALUE strings, e.g. ['train.epochs=3'], got {!r}"
    if not isinstance(overrides, Iterable) or isinstance(overrides, Mapping | bytes):
        raise ConfigError(wrong.format(overrides))
    texts = list(overrides)
    for text in texts:
        if not isinstance(text, str):
            raise ConfigError(wrong.format(text))
    return texts


def parse_override(text: str, keys: Collection[str] | None = None) -> tuple[list[str], Any]:
    """Split ``KEY=VALUE`` into the key's parts and the parsed value; ``keys``: the valid top-level keys.

    Examples
    --------
    >>> parse_override("model.hidden_size=256")
    (['model', 'hidden_size'], 256)
    >>> parse_override("sweep.model.cell=[lstm, gru]")
    (['sweep', 'model.cell'], ['lstm', 'gru'])
    >>> [parse_override(f"train.x={v}")[1] for v in ("3", "1.0e-3", "true", "gru", "'3'", "")]
    [3, 0.001, True, 'gru', '3', None]
    """
    key, equals, value = text.partition("=")
    shown = _shown(text)
    if not equals or not key.strip():
        raise ConfigError(f"override {shown}: expected KEY=VALUE with a dotted KEY, e.g. train.epochs=3")
    if len(text) > MAX_OVERRIDE_CHARS:
        raise ConfigError(f"override {shown}: longer than {MAX_OVERRIDE_CHARS} characters")
    parts = key.strip().split(".")
    if any(not part for part in parts):
        raise ConfigError(f"override {shown}: key {key!r} has an empty part; expected e.g. model.hidden_size")
    if keys is not None and parts[0] not in keys:
        raise ConfigError(
            f"override {shown}: unknown top-level key {parts[0]!r}; choose from {', '.join(keys)}"
        )
    if parts[0] == "sweep" and len(parts) > 1:
        parts = ["sweep", ".".join(parts[1:])]  # a sweep entry is itself a dotted path
    return parts, load_yaml(value, source=f"override {shown}")


def _set(tree: dict[str, Any], parts: list[str], value: Any, text: str) -> None:
    """Set ``tree[p0][p1]...[pn] = value``, creating missing (or null) sections on the way."""
    node = tree
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(
                f"override {_shown(text)}: {where} is {reprlib.repr(child)}, not a section; cannot set a key inside it"
            )
        node = child
    node[parts[-1]] = value


def _swept_keys(sweep: Mapping[str, Any]) -> dict[str, str]:
    """Every dotted key some sweep entry sets → the sweep key that sets it: a plain key sets itself, a
    ``data`` entry sets ``data.<field>`` for each field it gives, a ``cases`` (``cases.<name>``) entry each
    key inside it.

    Examples
    --------
    >>> _swept_keys({"model.cell": ["gru"], "data": [{"name": "a", "batch_size": 8}], "cases.x": [{"train.epochs": 3}]})
    {'model.cell': 'model.cell', 'data.name': 'data', 'data.batch_size': 'data', 'train.epochs': 'cases.x'}
    """
    keys: dict[str, str] = {}
    for swept, values in sweep.items():
        if not isinstance(swept, str):
            continue
        entries = values if isinstance(values, list) else []
        if swept == "data":
            for entry in entries:
                if isinstance(entry, Mapping):
                    keys.update({f"data.{field}": swept for field in entry})
        elif swept.split(".")[0] == "cases":  # cases, cases.<name>
            for entry in entries:
                if isinstance(entry, Mapping):
                    keys.update(dict.fromkeys(_swept_keys({k: [v] for k, v in entry.items()}), swept))
        else:
            keys[swept] = swept
    return keys


def _check_not_swept(tree: Mapping[str, Any], paths: list[list[str]], texts: list[str]) -> None:
    """An override of a key a sweep entry sets (of a field inside one, or of a section holding one)
    changes nothing in the runs of that entry: refused, naming the sweep key to override instead."""
    sweep = tree.get("sweep")
    if not isinstance(sweep, Mapping):
        return
    swept_keys = _swept_keys(sweep)
    for parts, text in zip(paths, texts):
        dotted = ".".join(parts)
        for key, swept in swept_keys.items():
            # the key itself, a field inside it, or a whole section holding it (data={...})
            if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
                raise ConfigError(
                    f"override {_shown(text)}: {key} is set by sweep.{swept}, so this has no effect on those "
                    f"runs; override the sweep instead, e.g. 'sweep.{swept}=[...]'"
                )


def apply_overrides(
    recipe: Mapping[str, Any], overrides: str | Iterable[str], *, keys: Collection[str] | None = None
) -> dict[str, Any]:
    """A copy of the recipe mapping with the ``KEY=VALUE`` overrides applied, in order (not yet validated).

    Parameters
    ----------
    recipe : Mapping
        The recipe as read from YAML (top-level keys ``study``, ``model``, ``sweep``, ...).
    overrides : str or iterable of str
        ``KEY=VALUE`` strings (or one alone), see :mod:`sparsernn.studies.overrides`. A later one wins.
    keys : collection of str, optional
        The valid top-level keys (:func:`~sparsernn.studies.parse_recipe` passes the recipe's
        fields); None lets any through, to be refused when the recipe is parsed.

    Returns
    -------
    dict
        The edited recipe; the input is not changed. Validation happens when it is parsed
        (:func:`sparsernn.studies.parse_recipe`), with the same messages as for the file.

    Raises
    ------
    ConfigError
        One line naming the override: no ``=``, an unknown top-level key, a value that is not YAML,
        a key through a non-section value, or a key the recipe sweeps.

    Examples
    --------
    >>> base = {"study": "s", "model": {"cell": "lstm"}, "sweep": {"train.lr": [0.1, 0.01]}}
    >>> edited = apply_overrides(base, ["model.hidden_size=16", "train.epochs=3", "sweep.model.cell=[gru]"])
    >>> edited["model"], edited["train"], edited["sweep"]
    ({'cell': 'lstm', 'hidden_size': 16}, {'epochs': 3}, {'train.lr': [0.1, 0.01], 'model.cell': ['gru']})
    """
    tree = copy.deepcopy(dict(recipe))
    texts = override_list(overrides)
    paths = []
    for text in texts:
        parts, value = parse_override(text, keys)
        _set(tree, parts, value, text)
        paths.append(parts)
    _check_not_swept(tree, paths, texts)
    return tree
