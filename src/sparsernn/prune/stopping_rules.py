"""Stopping rules as pure functions over a recorded pruning path (design section 10).

A :class:`PruningPath` holds what iterative pruning recorded at each level, from dense to sparse:
the remaining fraction q, validation and test accuracy (fractions in [0, 1]), and for every layer
view the traces of section 4 (unweighted Δ_S, Δ_R, weighted Δ_S, λ_w, average degrees d_L, d_R).

Every rule *flags* one level index: the first level it judges broken. ``len(path)`` means it flags
none (the path never breaks by that rule). The model one keeps when stopping by a rule is the level
just before its flag (:func:`kept_level`), so a rule is right when it flags the knee itself:

- :func:`knee`: the first level whose validation accuracy is more than ``delta`` points (percentage
  points) below the dense level's — the target every rule is scored against;
- expansion rules (:func:`expansion_flags`): per view and per Δ, the first zero crossing of the
  first layer to cross (``first``) and of the last one (``all``). A crossing is a value below 0 or an
  undefined one (NaN: the graph lost its expansion altogether);
- the average-degree rule: the same with ``min(d_L, d_R) - 3`` (an average degree below 3);
- the validation-accuracy rule flags the validation knee itself, i.e. keeps the last level within
  ``delta`` of dense. Scored against the validation knee it is right by construction (it is the
  oracle that needs a validation set at every level); scored against the knee on test accuracy
  (``target="test"`` in :func:`sparsernn.prune.stopping_eval.evaluate`) it is a fair baseline:
  it sees only validation data and its error is the validation-test noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from sparsernn.errors import ConfigError

#: The Δ measures whose first zero crossing is a stopping rule (λ_w = μ0 − μ̂ is never negative).
CROSSING_MEASURES = ("delta_s", "delta_r", "delta_s_weighted")
#: Every per-level trace a layer view may record.
TRACES = (*CROSSING_MEASURES, "gap_weighted", "d_left", "d_right")
#: The average degree below which the degree rule flags a level.
MIN_DEGREE = 3.0
#: The views of a layer's two weight matrices (W_ih, W_hh), whose rules are also read together ("ih+hh").
MATRIX_VIEWS = ("ih", "hh")

LayerView = tuple[str, str]  # (layer name, view): ("weight_l0", "hh")


@dataclass(frozen=True)
class PruningPath:
    """One recorded pruning path, dense level first.

    Attributes
    ----------
    levels : tuple of float
        Remaining fraction q at each level, strictly decreasing (the first one is the dense model).
    val_acc, test_acc : tuple of float
        Validation and test accuracy at each level, fractions in [0, 1].
    traces : mapping
        ``(layer, view) -> {measure: values per level}`` with measures from :data:`TRACES`
        (NaN where undefined).
    """

    levels: tuple[float, ...]
    val_acc: tuple[float, ...]
    test_acc: tuple[float, ...]
    traces: Mapping[LayerView, Mapping[str, tuple[float, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.levels)
        if n < 2 or any(not 0 < b < a <= 1 for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ConfigError(
                f"levels must be >= 2 fractions in (0, 1], strictly decreasing; got {self.levels}"
            )
        for name in ("val_acc", "test_acc"):
            values = getattr(self, name)
            if len(values) != n:
                raise ConfigError(f"{name} holds {len(values)} values; expected one per level ({n})")
            outside = next((v for v in values if math.isfinite(v) and not 0 <= v <= 1), None)
            if outside is not None:  # a knee's delta is in points of a fraction: percentages would mislead it
                hint = f" (a percentage? use {outside / 100:g})" if 1 < outside <= 100 else ""
                raise ConfigError(f"{name} holds {outside!r}; expected fractions in [0, 1]{hint}")
        if any(math.isnan(acc[0]) for acc in (self.val_acc, self.test_acc)):
            raise ConfigError(
                f"the dense accuracy is undefined (val {self.val_acc[0]}, test {self.test_acc[0]}); "
                "expected a number: every knee and accuracy lost is measured from it"
            )
        for key, measures in self.traces.items():
            for measure, values in measures.items():
                if measure not in TRACES or len(values) != n:
                    raise ConfigError(
                        f"trace {measure!r} of {key} has {len(values)} values; expected a measure "
                        f"from {', '.join(TRACES)} with one value per level ({n})"
                    )

    def __len__(self) -> int:
        return len(self.levels)

    def views(self) -> tuple[str, ...]:
        """The recorded views, sorted."""
        return tuple(sorted({view for _, view in self.traces}))


def first_crossing(values: tuple[float, ...] | list[float]) -> int:
    """Index of the first value below 0 or NaN; ``len(values)`` when there is none.

    Examples
    --------
    >>> first_crossing([2.0, 0.5, 0.0, -0.1, 1.0]), first_crossing([1.0, float("nan")]), first_crossing([1.0])
    (3, 1, 1)
    """
    return next((i for i, v in enumerate(values) if math.isnan(v) or v < 0), len(values))


def knee(path: PruningPath, delta: float, *, on: str = "val") -> int:
    """First level whose accuracy (``on`` "val" or "test") is more than ``delta`` points below dense.

    An undefined accuracy (NaN: no evaluation recorded) counts as a drop: a level is within ``delta``
    of dense only when it is shown to be. A drop that later recovers still marks the knee (the first
    level counts). Returns ``len(path)`` when accuracy never drops that far: the knee is then
    censored, counted one level past the sparsest one.

    Examples
    --------
    >>> path = PruningPath((1.0, 0.5, 0.2, 0.1), (0.90, 0.895, 0.87, 0.5), (0.9, 0.9, 0.9, 0.5))
    >>> knee(path, 1), knee(path, 5), knee(path, 1, on="test"), knee(path, 50)
    (2, 3, 3, 4)
    """
    if on not in ("val", "test"):
        raise ConfigError(f"unknown accuracy {on!r}; choose from test, val")
    if not 0 <= delta <= 100:
        raise ConfigError(f"delta must be in [0, 100] percentage points, got {delta!r}")
    acc = path.val_acc if on == "val" else path.test_acc
    floor = acc[0] - delta / 100
    return next((i for i, a in enumerate(acc) if math.isnan(a) or a < floor - 1e-12), len(acc))


def kept_level(flag: int) -> int:
    """The level one keeps when a rule flags ``flag``: the one before it (the dense one at least)."""
    return max(flag - 1, 0)


def _degree_margin(measures: Mapping[str, tuple[float, ...]]) -> list[float]:
    """``min(d_L, d_R) - 3`` per level; NaN (a crossing) where either degree is undefined, whatever
    side (Python's ``min`` with a NaN depends on the order of its arguments)."""
    pairs = zip(measures["d_left"], measures["d_right"], strict=True)
    return [math.nan if math.isnan(a) or math.isnan(b) else min(a, b) - MIN_DEGREE for a, b in pairs]


def _flags_over(path: PruningPath, views: tuple[str, ...], name: str) -> dict[str, int]:
    """The rules over every recorded graph of ``views`` (all layers), named ``"{measure}:{name}:..."``."""
    keys = [key for key in sorted(path.traces) if key[1] in views]
    recorded = set.intersection(*(set(path.traces[key]) for key in keys))
    margins = {measure: (lambda m, k=measure: m[k]) for measure in CROSSING_MEASURES if measure in recorded}
    if {"d_left", "d_right"} <= recorded:
        margins["degree"] = _degree_margin
    flags = {}
    for measure, margin in margins.items():
        crossings = [first_crossing(margin(path.traces[key])) for key in keys]
        flags |= {f"{measure}:{name}:first": min(crossings), f"{measure}:{name}:all": max(crossings)}
    return flags


def expansion_flags(path: PruningPath) -> dict[str, int]:
    """Flags of the expansion and average-degree rules, named ``"{measure}:{view}:{first|all}"``.

    ``first``: the first layer of the view to cross; ``all``: every layer has crossed. The degree
    rule is named ``"degree:{view}:..."`` (a layer crosses when ``min(d_L, d_R)`` drops below 3).
    Measures a view did not record are left out. When both weight-matrix views are recorded, the
    rules over both (:data:`MATRIX_VIEWS`, named ``"ih+hh"``) ask which matrix crosses first and when
    all have crossed: with one layer per view (the one-layer RNNs of the Kalra study) ``first`` and
    ``all`` of a single view coincide, and these are the rules that tell them apart.

    Examples
    --------
    >>> traces = {("l0", "hh"): {"delta_s": (3.0, 1.0, -1.0, -2.0)},
    ...           ("l1", "hh"): {"delta_s": (3.0, -0.5, -1.0, -2.0)}}
    >>> path = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9,) * 4, (0.9,) * 4, traces)
    >>> expansion_flags(path)
    {'delta_s:hh:first': 1, 'delta_s:hh:all': 2}
    >>> traces = {("l0", "ih"): {"delta_s": (3.0, 1.0, 0.5, -2.0)}, ("l0", "hh"): {"delta_s": (3.0, 1.0, -1.0, -2.0)}}
    >>> expansion_flags(PruningPath((1.0, 0.5, 0.2, 0.1), (0.9,) * 4, (0.9,) * 4, traces))
    {'delta_s:hh:first': 2, 'delta_s:hh:all': 2, 'delta_s:ih:first': 3, 'delta_s:ih:all': 3, 'delta_s:ih+hh:first': 2, 'delta_s:ih+hh:all': 3}
    """
    flags = {}
    for view in path.views():
        flags |= _flags_over(path, (view,), view)
    if set(MATRIX_VIEWS) <= set(path.views()):
        flags |= _flags_over(path, MATRIX_VIEWS, "+".join(MATRIX_VIEWS))
    return flags


def rule_flags(path: PruningPath, delta: float) -> dict[str, int]:
    """Every single-path rule's flag: the expansion and degree rules and ``"validation"``.

    The density-only rule needs other datasets' paths: :func:`density_flag`.

    Examples
    --------
    >>> path = PruningPath((1.0, 0.5, 0.2), (0.9, 0.85, 0.5), (0.9, 0.8, 0.5))
    >>> rule_flags(path, 1)
    {'validation': 1}
    """
    return expansion_flags(path) | {"validation": knee(path, delta, on="val")}


def nearest_level(path: PruningPath, q: float) -> int:
    """Index of the level of ``path`` whose q is nearest to ``q`` (in log q; ties: the denser one).

    Examples
    --------
    >>> nearest_level(PruningPath((1.0, 0.5, 0.2, 0.1), (0.9,) * 4, (0.9,) * 4), 0.15)
    2
    """
    distances = [abs(math.log(level) - math.log(q)) for level in path.levels]
    return min(range(len(distances)), key=lambda i: (distances[i], i))


#: The density-only rule's q* that never stops (flags one level past the sparsest, as a rule that never flags).
NEVER = 0.0


def _density_level(path: PruningPath, q: float) -> int:
    return len(path) if q == NEVER else nearest_level(path, q)


def density_choice(training: list[PruningPath], delta: float) -> float:
    """The fixed remaining fraction q* the density-only rule learns from ``training`` paths.

    Among every level q of the training paths and :data:`NEVER` (stop at no level: the flag one
    past the sparsest level, the knee of a path that never breaks), q* minimises the mean absolute
    error in levels between the level it flags on each training path (the one nearest q*) and that
    path's validation knee. ``NEVER`` is a candidate so that the rule, like an expansion rule that
    never flags, can be exactly right on paths whose accuracy never drops. Ties go to the larger q
    (the more cautious stop). Only ``training`` is read.

    Examples
    --------
    >>> a = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9, 0.9, 0.5, 0.5), (0.9,) * 4)
    >>> b = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9, 0.9, 0.9, 0.5), (0.9,) * 4)
    >>> density_choice([a, a, b], 5), density_choice([b, b, a], 1)
    (0.2, 0.1)
    >>> never = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9,) * 4, (0.9,) * 4)
    >>> density_choice([never, never, a], 5)
    0.0
    """
    if not training:
        raise ConfigError("the density-only rule needs at least one training path; got none")
    knees = [knee(p, delta) for p in training]
    candidates = [*sorted({q for p in training for q in p.levels}, reverse=True), NEVER]

    def loss(q: float) -> float:
        return sum(abs(_density_level(p, q) - k) for p, k in zip(training, knees, strict=True)) / len(knees)

    return min(candidates, key=lambda q: (loss(q), -q))


def density_flag(path: PruningPath, training: list[PruningPath], delta: float) -> int:
    """The density-only rule's flag on ``path``: the level nearest q* learned from ``training`` alone
    (``len(path)``, no flag, when q* is :data:`NEVER`).

    Examples
    --------
    >>> a = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9, 0.9, 0.5, 0.5), (0.9,) * 4)
    >>> never = PruningPath((1.0, 0.5, 0.2, 0.1), (0.9,) * 4, (0.9,) * 4)
    >>> density_flag(a, [a], 5), density_flag(a, [never], 5)
    (2, 4)
    """
    return _density_level(path, density_choice(training, delta))
