"""The recipes that ship with the package, found by name: ``sparsernn run smoke``.

They live in ``sparsernn/recipes/`` (package data; the repository's ``recipes/`` folder is a link to
it, so there is one copy). A recipe argument is a built-in name when it is a plain name (no ``/``,
no ``.yaml`` or ``.yml`` suffix) of one of them; anything else is a path (``./smoke`` reads a file
called ``smoke``).
"""

from __future__ import annotations

from pathlib import Path

from sparsernn.errors import ConfigError

#: The folder of the built-in recipes, inside the installed package.
RECIPES_FOLDER = Path(__file__).resolve().parents[1] / "recipes"


def builtin_recipes() -> dict[str, Path]:
    """The built-in recipes by name (the file name without ``.yaml``), sorted by name.

    Examples
    --------
    >>> recipes = builtin_recipes()
    >>> "smoke" in recipes and recipes["smoke"].name
    'smoke.yaml'
    """
    return dict(sorted((path.stem, path) for path in RECIPES_FOLDER.glob("*.yaml")))


def _is_name(text: str) -> bool:
    return text not in ("", "-", ".", "..") and "/" not in text and not text.endswith((".yaml", ".yml"))


def find_recipe(recipe: str | Path) -> Path:
    """The file of ``recipe``: a built-in recipe when it is a plain name, else the path as given.

    A plain name that is neither built in nor an existing file is an error listing the built-in names.

    Examples
    --------
    >>> find_recipe("smoke").name, find_recipe("my/study.yaml").as_posix()
    ('smoke.yaml', 'my/study.yaml')
    >>> find_recipe("smokes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sparsernn.errors.ConfigError: unknown recipe 'smokes'; choose a built-in recipe (darji-pruning, ..., smoke) or give ...
    """
    if isinstance(recipe, Path) or not _is_name(recipe):
        return Path(recipe)
    found = builtin_recipes()
    if recipe in found:
        return found[recipe]
    if Path(recipe).exists():
        return Path(recipe)
    raise ConfigError(
        f"unknown recipe {recipe!r}; choose a built-in recipe ({', '.join(found)}) or give the path of a YAML file"
    )
