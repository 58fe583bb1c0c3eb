"""Pruning schedules: pure functions returning the list of sparsity levels to prune to, in order.

Every schedule returns non-decreasing levels in [0, 1], each the sparsity of the *total* (see
:mod:`sparsernn.prune.criteria`), so the list can be fed to :func:`sparsernn.prune.iterative`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from numbers import Integral, Real

from sparsernn._registry import registry
from sparsernn.errors import ConfigError
from sparsernn.prune.targets import check_sparsity


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    return int(steps)


def explicit(levels: Iterable[float]) -> list[float]:
    """The given levels, checked: at least one, each in [0, 1], non-decreasing.

    Examples
    --------
    >>> explicit([0.1, 0.5, 0.9])
    [0.1, 0.5, 0.9]
    """
    if isinstance(levels, str) or not isinstance(levels, Iterable):
        raise ConfigError(f"levels must be a list of sparsities in [0, 1], got {levels!r}")
    checked = [check_sparsity(level) for level in levels]
    if not checked:
        raise ConfigError("levels must hold at least one sparsity in [0, 1], got an empty list")
    for before, after in itertools.pairwise(checked):
        if after < before:
            raise ConfigError(
                f"levels must be non-decreasing (pruning is monotone), but {after} follows {before}"
            )
    return checked


def geometric(steps: int, *, factor: float) -> list[float]:
    """Levels where the remaining fraction is multiplied by ``factor`` at each step.

    Level k (k = 1..steps) is ``1 - factor**k``; ``factor=0.8`` is the usual "prune 20 % of what
    is left each round". For a final sparsity ``s_f`` after n steps use ``factor = (1 - s_f)**(1 / n)``.

    Examples
    --------
    >>> [round(s, 3) for s in geometric(3, factor=0.8)]
    [0.2, 0.36, 0.488]
    """
    _check_steps(steps)
    if isinstance(factor, bool) or not isinstance(factor, Real) or not 0.0 < factor < 1.0:
        raise ConfigError(f"factor (remaining fraction kept per step) must be in (0, 1), got {factor!r}")
    return [1.0 - factor**k for k in range(1, steps + 1)]


def cubic(final: float, steps: int, *, initial: float = 0.0) -> list[float]:
    """The gradual schedule of Zhu & Gupta (2017) at its pruning steps.

    ``s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n Δt))**3`` for ``t = t0 + kΔt``, k = 0..n. Since
    ``(t - t0) / (n Δt) = k / n``, the levels depend on ``s_i``, ``s_f`` and n only (t0 and Δt
    say *when* to prune during training). The k = 0 level ``s_i`` is listed only when it is > 0
    (pruning to 0 is no step), so the list has n levels, or n + 1 when ``initial > 0``.

    References
    ----------
    M. Zhu and S. Gupta, "To prune, or not to prune: exploring the efficacy of pruning for model
    compression", arXiv:1710.01878, 2017.

    Examples
    --------
    >>> [round(s, 4) for s in cubic(0.8, 4)]
    [0.4625, 0.7, 0.7875, 0.8]
    """
    _check_steps(steps)
    s_i, s_f = _endpoints(initial, final)
    levels = [_zhu_gupta(s_i, s_f, k / steps) for k in range(steps + 1)]
    return levels if s_i > 0 else levels[1:]


def cubic_at(
    step: int, *, final: float, steps: int, initial: float = 0.0, start: int = 0, frequency: int = 1
) -> float:
    """Zhu & Gupta's sparsity at training step ``step``, for pruning *during* training.

    ``start`` is t0, ``frequency`` Δt (training steps between pruning steps) and ``steps`` n. Before
    ``start`` the level is ``initial``; between pruning steps the last pruning step's level holds;
    from ``start + steps * frequency`` on it is ``final``.

    Examples
    --------
    >>> [round(cubic_at(t, final=0.8, steps=4, start=10, frequency=5), 4) for t in (0, 10, 17, 30, 99)]
    [0.0, 0.0, 0.4625, 0.8, 0.8]
    """
    _check_steps(steps)
    _check_steps(frequency)
    s_i, s_f = _endpoints(initial, final)
    if step < start:
        return s_i
    return _zhu_gupta(s_i, s_f, min((step - start) // frequency, steps) / steps)


def _endpoints(initial: float, final: float) -> tuple[float, float]:
    s_i, s_f = check_sparsity(initial), check_sparsity(final)
    if s_i > s_f:
        raise ConfigError(f"initial sparsity {initial} exceeds the final sparsity {final}")
    return s_i, s_f


def _zhu_gupta(s_i: float, s_f: float, progress: float) -> float:
    level = s_f + (s_i - s_f) * (1.0 - progress) ** 3
    # Clamp away float noise so every level is a valid sparsity between s_i and s_f.
    return min(max(level, s_i), s_f)


#: Schedules by name (recipes call them with keyword arguments).
SCHEDULES: Mapping[str, Callable[..., list[float]]] = registry(
    {"explicit": explicit, "geometric": geometric, "cubic": cubic}
)
