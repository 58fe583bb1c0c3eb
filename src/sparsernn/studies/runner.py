"""Executing one run: seeds, protocol lookup, failure capture. This is what a worker calls."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from sparsernn.errors import SparsernnError
from sparsernn.studies.config import RunConfig
from sparsernn.studies.partial import code_fingerprint, open_partial
from sparsernn.studies.recorder import Recorder, RunResult
from sparsernn.studies.registry import get_protocol, parse_params


def execute(
    config: RunConfig, *, progress: bool = False, workers: int = 1, partial_root: str | Path | None = None
) -> RunResult:
    """Run ``config`` to completion and return its result; never raises for a failing run.

    ``workers`` is how many processes the protocol may use for independent jobs within the run;
    ``partial_root`` (a results folder) where it keeps finished pieces and finds those of an earlier,
    killed attempt (:mod:`sparsernn.studies.partial`). Results depend on neither.

    A resumed run's ``wall_s`` counts its earlier attempts (``resumed_s``, :mod:`sparsernn.studies.partial`).

    A user error (:class:`~sparsernn.errors.SparsernnError`, e.g. a diverging loss) or an unexpected
    exception marks the run ``failed`` with the reason, so a sweep goes on with the other runs.
    """
    start = time.perf_counter()
    recorder = Recorder(progress=progress, workers=workers)
    protocol = get_protocol(config.protocol)
    params = parse_params(config)
    try:
        recorder.partial = open_partial(partial_root, config)
        summary = protocol.run(config, params, recorder)
        status, reason = "ok", ""
    except SparsernnError as error:
        summary, status, reason = {}, "failed", f"{type(error).__name__}: {error}"
    except Exception as error:  # a bug must not take the whole sweep down; keep the traceback
        summary, status = {}, "failed"
        reason = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=8)}"
    return RunResult(
        config=config,
        status=status,
        summary=summary,
        rows=recorder.rows,
        files=recorder.files if status == "ok" else {},
        reason=reason,
        wall_s=time.perf_counter() - start + recorder.partial.earlier_s,
        resumed_s=recorder.partial.earlier_s,
        params=params.model_dump(mode="json"),
        code=code_fingerprint(),
    )
