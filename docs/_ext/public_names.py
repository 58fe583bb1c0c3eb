"""This site's Sphinx extension: what the API pages list, and references that resolve as readers expect.

- **Public names.** The API pages document ``sparsernn.nn.SparseLSTM`` (the name users import),
  while Python knows the class as ``sparsernn.nn.recurrent.SparseLSTM``: signatures, base classes
  and type hints refer to the latter. Such a reference resolves to the public page of the same
  object. A reference to an existing object without a page (a helper, a submodule) is shown as code
  without a link; with ``nitpicky`` on, a name that does not exist (a typo, a renamed or removed
  function) fails the build.
- **Page contents** (:func:`api_context`): a package's ``__all__`` split into classes, functions,
  submodules and constants, each constant with its ``#:`` comment from the module defining it.
- **|x| in docstrings** is a size or an absolute value here, never a reST substitution.
- **pydantic models** (the recipe's configs) get a signature of their fields, constraints left out.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from collections.abc import Mapping
from functools import cache
from types import ModuleType
from typing import Any

from docutils import nodes
from numpydoc.docscrape import ClassDoc
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.typing import stringify_annotation

_MISSING = object()


def _lookup(path: str) -> Any:
    """The object at a dotted path, or ``_MISSING``. For the path itself an attribute wins over a
    submodule of the same name (``sparsernn.graphs.properties`` is the function the package
    exports); below it the longest importable module comes first (``sparsernn.results.load.load``)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        if _has_path(obj, parts[cut:]):
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
            return obj
    try:
        return importlib.import_module(path)
    except ImportError:
        return _MISSING


def _has_path(obj: Any, attrs: list[str]) -> bool:
    for attr in attrs:
        obj = getattr(obj, attr, _MISSING)
        if obj is _MISSING:
            return False
    return True


@cache
def _public_names(packages: tuple[str, ...]) -> dict[int, str]:
    """``id(object) -> public dotted name`` for every class and function a public package exports."""
    names: dict[int, str] = {}
    for package in packages:
        module = importlib.import_module(package)
        for name in public_members(module):
            obj = getattr(module, name)
            if isinstance(obj, type) or callable(obj):
                names.setdefault(id(obj), f"{package}.{name}")
    return names


def _defining_module(node: pending_xref) -> str | None:
    """The module that defines the object whose API page holds the reference (for short names)."""
    refdoc = node.get("refdoc", "")
    if not refdoc.startswith("api/generated/"):
        return None
    documented = _lookup(refdoc.removeprefix("api/generated/"))
    return getattr(documented, "__module__", None) if documented is not _MISSING else None


def _candidates(node: pending_xref, target: str) -> list[str]:
    module, cls = node.get("py:module"), node.get("py:class")
    paths = [target]
    for scope in (module, _defining_module(node)):
        if scope:
            paths.append(f"{scope}.{target}")
            if cls:
                paths.append(f"{scope}.{cls}.{target}")
    return paths


def _public_target(app: Sphinx, node: pending_xref) -> str | None:
    """The public name of the object a reference points at, when it has one under another name."""
    names = _public_names(tuple(app.config.public_packages))
    target = node["reftarget"]
    if not node.get("py:module") and "." not in target:
        # An unqualified name outside any module's page (a summary line in a table of packages):
        # the public name of that spelling, when exactly one public package exports it.
        matches = {public for public in names.values() if public.rsplit(".", 1)[-1] == target}
        return matches.pop() if len(matches) == 1 else None
    for path in _candidates(node, target):
        if _lookup(path) is _MISSING:
            continue
        parts = path.split(".")
        # The object itself, or a member of a public object (``...recurrent.SparseLSTM.from_torch``).
        for cut in range(len(parts), 0, -1):
            owner = _lookup(".".join(parts[:cut]))
            if owner is not _MISSING and id(owner) in names and _has_path(owner, parts[cut:]):
                public = ".".join([names[id(owner)], *parts[cut:]])
                return public if public != target else None
    return None


def _documented_attribute(node: pending_xref) -> bool:
    """Whether ``:attr:`name``` names an instance attribute listed in its class's Attributes section."""
    owner = _lookup(node.get("refdoc", "").removeprefix("api/generated/"))
    if node.get("reftype") != "attr" or not inspect.isclass(owner):
        return False
    return any(attribute.name == node["reftarget"] for attribute in ClassDoc(owner)["Attributes"])


def _internal(node: pending_xref) -> bool:
    """Whether a reference names an existing sparsernn object that has no page (a helper, a submodule)."""
    for path in _candidates(node, node["reftarget"]):
        if path.startswith("sparsernn.") and _lookup(path) is not _MISSING:
            return True
    return _documented_attribute(node)


def _resolve(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    public = _public_target(app, node)
    if public is not None:
        domain = env.get_domain("py")
        found = domain.resolve_xref(
            env, node.get("refdoc", ""), app.builder, node["reftype"], public, node, contnode
        )
        if found is not None:
            return found
    if _internal(node):
        # Not broken, only not public: shown as code without a link. A name that does not exist
        # (a typo, a renamed or removed function) still fails the build.
        return contnode
    return None


# --- |x| in docstrings ---------------------------------------------------------------------------

# The docstrings write |x| for a size or an absolute value (|W ⊙ M|, |layer t|), never for a
# reStructuredText substitution; outside literals it is escaped so that it reads as written.
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")
_BARS = re.compile(r"(?<![\\|])\|(?=\S)([^|]*?\S)\|")


def _escape_bars(line: str) -> str:
    pieces = _LITERAL.split(line)
    return "".join(
        piece if index % 2 else _BARS.sub(r"\\|\1\\|", piece) for index, piece in enumerate(pieces)
    )


def _escape_docstring_bars(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    block: tuple[str, int] | None = None  # ("doctest" | "literal", indent of the line that opened it)
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block is not None:
            kind, opened_at = block
            if not stripped:
                block = None if kind == "doctest" else block
                continue
            if kind == "doctest" or indent > opened_at:
                continue
            block = None
        if stripped.startswith(">>>"):
            block = ("doctest", indent)
        elif not stripped.startswith(("|", "+")):  # not a line block or a table
            lines[index] = _escape_bars(line)
            if stripped.endswith("::"):
                block = ("literal", indent)


# --- pydantic models (the recipe's typed configs) ----------------------------------------------


def _is_model(obj: Any) -> bool:
    return inspect.isclass(obj) and any(base.__module__.startswith("pydantic") for base in obj.__mro__[1:])


def _field_signature(obj: Any) -> str:
    """``(*, name: type = default, ...)`` from a pydantic model's fields, constraints left out."""
    parts = []
    for name, field in obj.model_fields.items():
        annotation = stringify_annotation(field.annotation, "smart")
        if field.default_factory is not None:
            factory = field.default_factory
            default = f"{factory.__name__}()" if inspect.isclass(factory) else "..."
            parts.append(f"{name}: {annotation} = {default}")
        elif field.is_required():
            parts.append(f"{name}: {annotation}")
        else:
            parts.append(f"{name}: {annotation} = {field.default!r}")
    return "(*, " + ", ".join(parts) + ")" if parts else "()"


def _model_signature(app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: str, ret: str):
    if what == "class" and _is_model(obj):
        return _field_signature(obj), None
    return None


def _skip_model_internals(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any):
    # pydantic's own attributes (model_config, model_fields, ...) are documented by pydantic.
    return True if what == "class" and name.startswith("model_") else None


# --- What each API page lists ------------------------------------------------------------------


def _explicit_reexports(module: ModuleType) -> set[str]:
    """Names a module re-exports by the ``from x import name as name`` convention (PEP 484)."""
    source = inspect.getsource(module)
    return {
        alias.name
        for node in ast.parse(source).body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    }


def _attr_docs(module_name: str) -> dict[str, str]:
    """``#:`` doc comments of a module's top-level names."""
    docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
    return {name: "\n".join(lines).strip() for (namespace, name), lines in docs.items() if not namespace}


def public_members(module: ModuleType) -> list[str]:
    """``__all__``, or for a module without one: its own public names and explicit re-exports."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    documented = _attr_docs(module.__name__)
    reexported = _explicit_reexports(module)
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or isinstance(obj, ModuleType):
            continue
        own = getattr(obj, "__module__", None) == module.__name__ and (inspect.isclass(obj) or callable(obj))
        if own or name in documented or name in reexported:
            names.append(name)
    return names


def _constant_doc(package: str, name: str, value: Any) -> str:
    """The ``#:`` comment of a constant, from the module under ``package`` that defines it."""
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith(package) or getattr(module, name, _MISSING) is not value:
            continue
        doc = _attr_docs(module_name).get(name)
        if doc:
            return doc
    return ""


def _constant_value(value: Any) -> str:
    """A short, deterministic description of a constant's value (names for a registry)."""
    if isinstance(value, Mapping):
        return "Names: " + ", ".join(f"``{key}``" for key in value) + "."
    if isinstance(value, (tuple, frozenset)) and value and all(isinstance(item, str) for item in value):
        items = sorted(value) if isinstance(value, frozenset) else value  # a set's order varies by run
        return "Names: " + ", ".join(f"``{item}``" for item in items) + "."
    text = repr(value)
    if len(text) > 200 or " at 0x" in text:
        return f"A ``{type(value).__name__}``."
    return f"Value: ``{text}``."


def api_context(packages: list[str]) -> dict[str, dict[str, Any]]:
    """For each public package: its classes, functions, submodules and constants (with their text)."""
    context: dict[str, dict[str, Any]] = {}
    for package in packages:
        module = importlib.import_module(package)
        entry: dict[str, Any] = {"classes": [], "functions": [], "modules": [], "constants": []}
        for name in public_members(module):
            value = getattr(module, name)
            if isinstance(value, ModuleType):
                entry["modules"].append(value.__name__)
            elif inspect.isclass(value):
                entry["classes"].append(name)
            elif inspect.isroutine(value):
                entry["functions"].append(name)
            elif name != "__version__":
                doc = _constant_doc(package, name, value)
                entry["constants"].append({"name": name, "doc": doc, "value": _constant_value(value)})
        context[package] = entry
    return context


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("public_packages", [], "env")
    app.connect("missing-reference", _resolve)
    app.connect("autodoc-process-signature", _model_signature)
    app.connect("autodoc-skip-member", _skip_model_internals)
    app.connect("autodoc-process-docstring", _escape_docstring_bars)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
