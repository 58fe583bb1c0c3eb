"""Reading recipe YAML: the safe subset, without anchors or aliases, errors as one line.

Used for recipe files and for the values of command-line overrides, so both read the same way.
"""

from __future__ import annotations

from typing import Any

import yaml

from sparsernn.errors import ConfigError

MAX_RECIPE_BYTES = 1_000_000  # a recipe is a page of YAML; anything bigger is a mistake


class _AliasFound(Exception):
    """Raised by :class:`_RecipeLoader` at the first anchor or alias (carries its position)."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors and aliases (``&a`` / ``*a``).

    An alias shares a node, so a few hundred bytes of nested aliases (an "alias bomb") expand into
    billions of values once the config is dumped and hashed. Recipes never need them: refused.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasFound(event.start_mark.line + 1)
        return super().compose_node(parent, index)


def load_yaml(data: str | bytes, *, source: str = "recipe") -> Any:
    """The value of YAML text (safe tags only, no anchors or aliases); :class:`ConfigError` naming ``source``.

    Examples
    --------
    >>> load_yaml("seeds: [0, 1]\\nmodel: {hidden_size: 8}")
    {'seeds': [0, 1], 'model': {'hidden_size': 8}}
    >>> load_yaml("a: &x 1\\nb: *x")
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: recipe: YAML anchors and aliases (&name, *name) are not allowed in recipes (line 1)
    """
    if len(data) > MAX_RECIPE_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_RECIPE_BYTES} bytes; a recipe is a short YAML file")
    try:
        return yaml.load(data, Loader=_RecipeLoader)  # a SafeLoader subclass
    except _AliasFound as found:
        raise ConfigError(
            f"{source}: YAML anchors and aliases (&name, *name) are not allowed in recipes (line {found.line})"
        ) from None
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}") from None
    except (ValueError, RecursionError) as error:
        # Undecodable bytes, impossible dates or bad !!int/!!float tags (PyYAML raises ValueError),
        # nesting deeper than the parser's recursion.
        raise ConfigError(f"{source}: not valid YAML ({type(error).__name__})") from None
