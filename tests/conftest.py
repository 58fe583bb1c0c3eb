"""Suite-wide rules: in CI (``CI`` set), a test may not skip for want of a system tool or an extra.

Locally a missing ``espeak-ng`` or Ray skips with a reason; CI installs everything, so such a skip
there would hide an untested code path and fails instead. Only tests that need hardware CI may not
have (a CUDA device; a CPU with bfloat16 support in oneDNN) may skip in CI.

The ``run_examples`` fixture runs a module's docstring examples for the docs tests.

Property tests draw the same examples on every run (Hypothesis profile ``fixed``): ``make test``
passes or fails the same way on every machine and every rerun. ``HYPOTHESIS_PROFILE=explore``
draws fresh examples, to hunt for new failures while developing.
"""

from __future__ import annotations

import doctest
import os
import re
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import settings

settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

SKIPS_ALLOWED_IN_CI = ("needs a CUDA device", "needs a CPU whose oneDNN runs an LSTM in bfloat16")


def _forbidden_in_ci(report: pytest.CollectReport | pytest.TestReport) -> bool:
    if not os.environ.get("CI") or not report.skipped:
        return False
    return not any(reason in str(report.longrepr) for reason in SKIPS_ALLOWED_IN_CI)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if _forbidden_in_ci(report):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every dependency is installed: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    outcome = yield
    report = outcome.get_result()
    if _forbidden_in_ci(report):
        report.outcome = "failed"
        report.longrepr = f"module skipped in CI, where every dependency is installed: {report.longrepr}"


# A float in an example's shown output matches a computed one that differs by at most one unit in
# the last digit shown (pytest's NUMBER rule) or by 1e-9 relative: CPUs, BLAS builds and releases
# change the last bits. Examples still print rounded values; this only keeps a last-digit flip
# from failing a doctest.
_FLOAT = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+|\d+(?=[eE][-+]?\d))(?:[eE][-+]?\d+)?(?![\w.])")


def _within_last_digit(shown: str, computed: str) -> bool:
    mantissa, _, exponent = shown.lower().partition("e")
    unit = 10.0 ** (int(exponent or 0) - len(mantissa.partition(".")[2]))
    a, b = float(shown), float(computed)
    return abs(a - b) <= max(unit * (1 + 1e-9), 1e-9 * max(abs(a), abs(b)))


class FloatTolerantChecker(doctest.OutputChecker):
    """Exact match first; else every float of ``got`` may stand for the shown one at the same place."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        shown, computed = _FLOAT.findall(want), list(_FLOAT.finditer(got))
        if not shown or len(shown) != len(computed):
            return False
        pieces, end = [], 0
        for text, match in zip(shown, computed, strict=True):
            if not _within_last_digit(text, match.group()):
                return False
            pieces += [got[end : match.start()], text]
            end = match.end()
        return super().check_output(want, "".join(pieces) + got[end:], optionflags)


@pytest.fixture
def run_examples() -> Callable[[ModuleType], doctest.TestResults]:
    """``run_examples(module)``: run a module's docstring examples like ``doctest.testmod``, floats
    compared by :class:`FloatTolerantChecker`, ELLIPSIS and NORMALIZE_WHITESPACE on."""

    def run(module: ModuleType) -> doctest.TestResults:
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        runner = doctest.DocTestRunner(checker=FloatTolerantChecker(), optionflags=flags, verbose=False)
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__):
            runner.run(test)
        return runner.summarize(verbose=False)

    return run
