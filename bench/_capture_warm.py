"""batchlake's capture in a warm process: what the scheduler pays for each scheduled run.

Run by ``sources_capture.py`` as a measured child::

    python bench/_capture_warm.py SPEC.json RESULT.json

The scheduler (``batchlake scheduler``) is one long-lived process: Python, Arrow, DuckDB,
SQLAlchemy and the rest are imported once, the lake stays open, and each scheduled run
opens its sources and captures. This child does a little more. It first captures the
small warm-up table (``bench_1000``) in a project of its own, so that every library and
lazy import is loaded. Then it times a first capture of the measured table on a fresh
project, from ``Lake.open`` (which the scheduler does once, not per run) to the run's
end: metadata created and migrated, source attached and discovered, rows read, hashed
and written, batch recorded. The contenders' warm runs (``_capture_contenders.py`` with
``warmup_table``) are timed the same way, so both sides exclude interpreter start-up and
imports and include everything else.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def capture(project: str, db: str, table: str) -> dict[str, Any]:
    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    clock = time.perf_counter()
    lake = Lake.open(Path(project))
    result = Runner(lake).run([f"raw.{db}.{table}"], command="ingest")
    seconds = time.perf_counter() - clock
    step = next(s for s in result.steps if s.name == f"raw.{db}.{table}")
    if step.status != "success":
        raise RuntimeError(f"capture of {db}.{table} ended {step.status}: {step.message}")
    return {"seconds_work": seconds, "rows": step.rows, "step_seconds": step.seconds}


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    warmup = capture(spec["warmup_project"], spec["db"], spec["warmup_table"])
    result = capture(spec["project"], spec["db"], spec["table"])
    result["warmup_seconds"] = warmup["seconds_work"]
    result["cpu_seconds_inside"] = time.process_time()
    Path(result_path).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:3])
