"""Suite-wide rules: in CI (``CI`` set), a test may not skip for want of a system tool or an extra.

Locally a missing ``espeak-ng`` or Ray skips with a reason; CI installs everything, so such a skip
there would hide an untested code path and fails instead. Only tests that need hardware CI cannot
have (a CUDA device) may skip in CI.
"""

from __future__ import annotations

import os

import pytest

SKIPS_ALLOWED_IN_CI = ("needs a CUDA device",)


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
