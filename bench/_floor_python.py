"""The Python steps' floor: their computation on the same Parquet input, no lake around it.

Run as a child process by ``core_pipeline.py``::

    python bench/_floor_python.py SPEC.json RESULT.json

SPEC names the Parquet files of ``refined.customer_features`` and
``refined.sales_by_month`` (batchlake's own, as the catalog lists them), each step's
parameters (those of the project's ``[python.*]`` tables) and an output folder. Each step
is timed from the first ``read_table`` to the last ``write_table``: the same library
calls the steps make (``segment_customers``, ``forecast_tables``), with the imports done
before the clock starts, and no Iceberg commit, staging, content hash or run records. So
batchlake's step over this floor is the cost of running the computation as a step.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from batchlake.analytics.forecast import forecast_tables
from batchlake.analytics.segmentation import segment_customers


def _read(files: list[str]) -> pa.Table:
    return pa.concat_tables([pq.read_table(f) for f in files])


def _timed(work: Any) -> dict[str, float]:
    clock, cpu = time.perf_counter(), time.process_time()
    work()
    return {"seconds": time.perf_counter() - clock, "cpu_seconds": time.process_time() - cpu}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)

    def segments() -> None:
        tables = segment_customers(_read(spec["customer_features"]), **spec["segments"])
        for name, table in tables.items():
            pq.write_table(table, out_dir / f"segments_{name}.parquet")

    def forecast() -> None:
        tables = forecast_tables(_read(spec["sales_by_month"]), **spec["forecast"])
        for name, table in tables.items():
            pq.write_table(table, out_dir / f"forecast_{name}.parquet")

    steps = {
        "python.customer_segments": _timed(segments),
        "python.sales_forecast": _timed(forecast),
    }
    return {
        "seconds_total": sum(s["seconds"] for s in steps.values()),
        "cpu_seconds_total": sum(s["cpu_seconds"] for s in steps.values()),
        "steps": steps,
    }


def main(argv: list[str]) -> int:
    spec_path, result_path = argv[1], argv[2]
    result = run(json.loads(Path(spec_path).read_text()))
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
