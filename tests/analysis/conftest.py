"""One BLAS thread for these tests: the test machine's two cores are shared, and a multi-threaded
LAPACK call slows down by 10-50x when its threads get descheduled."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="package")
def _single_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield
