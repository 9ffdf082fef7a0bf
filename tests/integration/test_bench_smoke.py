"""Every benchmark in bench/ runs: its `--smoke` mode prints its table and exits 0.

The scripts are listed from the folder (bench/*.py without the `_` helpers), so a new
benchmark without a smoke mode, or one that no longer runs after a refactor, fails here
instead of on the day someone needs its figures (issue 19: core_pipeline.py crashed at
full size for weeks and nobody saw). No timing is asserted: a smoke run is seconds on a
tiny size, its figures mean nothing. What is asserted: exit 0, the table on stdout, the
JSON written where `--output` said, and, where the script checks results itself (equal
tables, consistent invoices), that those checks passed.

A smoke run that needs a service (PostgreSQL, MariaDB, Java for Spark, the real Chinook
dataset) follows the suite's rule: skipped with the reason, failed under
BATCHLAKE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, dataset, require_java, require_service, unavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENCH = REPO / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def _postgres() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)


def _mariadb() -> None:
    require_service("MariaDB", "127.0.0.1", 3306)


def _azurite() -> None:
    from tests.support.azurite import AzuriteUnavailable, azurite_binary

    try:
        azurite_binary()  # installs the pinned Azurite from npm when absent
    except AzuriteUnavailable as exc:
        unavailable(str(exc))


def _all_equal(verdicts: dict[str, dict[str, str]]) -> None:
    bad = {
        f"{kind}/{name}": verdict
        for kind, by_name in verdicts.items()
        for name, verdict in by_name.items()
        if not verdict.startswith("equal")
    }
    assert not bad, bad


def _core_pipeline(result: dict[str, Any], stdout: str) -> None:
    [sample] = result["samples"]
    _all_equal(sample["checks"])
    steps = result["summary"]["stage_steps"]["refined_run"]
    # Stage totals hold every step of the stage, the Python steps included.
    assert "python.customer_segments" in steps["python"]
    assert set(steps["refined"]) == set(steps["refined_sql"]) | set(steps["python"])
    assert "segmentation step / refined SQL" in stdout


def _daily_increment(result: dict[str, Any], stdout: str) -> None:
    assert len(result["days"]) == 2
    assert all(day["equal"] for day in result["days"]), result["days"]
    # Captured by cursor on LastModified: day 2's raw holds exactly its new and changed rows.
    day = result["days"][1]
    raw = day["incremental"]["raw_bytes"]
    assert raw["invoice_line"]["rows"] == day["new_lines"] + day["changed_lines"], day
    assert raw["invoice"]["rows"] == day["new_invoices"] + day["changed_invoices"], day


def _store_load(result: dict[str, Any], stdout: str) -> None:
    [run] = result["runs"]
    assert run["burst"]["served"] == 20 and run["errors"] == 0
    assert run["new_invoices"] == run["checkouts"] and run["invoices_total_mismatch"] == 0


def _spark_cluster(result: dict[str, Any], stdout: str) -> None:
    assert result["identical"], result.get("differences")


def _scheduler_soak(result: dict[str, Any], stdout: str) -> None:
    assert result["runs_lost"] == 0, result


@dataclass
class Smoke:
    """How to run one script's smoke mode and what to check besides exit 0 and stdout."""

    args: Callable[[Path], list[str]]
    needs: tuple[Callable[[], None], ...] = ()
    output: str | None = "out.json"  # the JSON the script writes (None: stdout only)
    check: Callable[[dict[str, Any], str], None] | None = None
    stdout_has: tuple[str, ...] = field(default=())


def _standard(tmp: Path) -> list[str]:
    return ["--workdir", str(tmp / "work"), "--output", str(tmp / "out.json")]


SMOKES: dict[str, Smoke] = {
    "azure_storage.py": Smoke(
        lambda tmp: ["--output", str(tmp / "out.json")], needs=(_azurite,), stdout_has=("pyarrow",)
    ),
    "core_pipeline.py": Smoke(_standard, check=_core_pipeline, stdout_has=("Targets",)),
    "daily_increment.py": Smoke(
        lambda tmp: [*_standard(tmp), "--capture", "modified"], check=_daily_increment
    ),
    "diff_capture.py": Smoke(_standard, stdout_has=("diff changed",)),
    "profile_steps.py": Smoke(
        lambda tmp: ["--workdir", str(tmp / "work")], output=None, stdout_has=("step",)
    ),
    "pruning.py": Smoke(
        lambda tmp: ["--output", str(tmp / "out.json")], stdout_has=("lake.table(filter=...)",)
    ),
    "scale_out.py": Smoke(_standard, needs=(require_java,)),
    "scheduler_soak.py": Smoke(
        lambda tmp: ["--workdir", str(tmp / "work"), "--json", str(tmp / "out.json")],
        needs=(_postgres,),
        check=_scheduler_soak,
    ),
    "segmentation.py": Smoke(
        lambda tmp: [*_standard(tmp), "--real", str(dataset("chinook/chinook.sqlite"))]
    ),
    "serve_load.py": Smoke(_standard),
    "sources_capture.py": Smoke(_standard, needs=(_postgres, _mariadb)),
    "spark_cluster.py": Smoke(_standard, needs=(require_java,), check=_spark_cluster),
    "store_load.py": Smoke(_standard, check=_store_load),
}


def test_every_benchmark_has_a_smoke_entry() -> None:
    """A new bench script is added here (and so runs in CI), a removed one is taken out."""
    assert sorted(SMOKES) == SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_smoke_mode(script: str, tmp_path: Path) -> None:
    smoke = SMOKES.get(script)
    if smoke is None:  # still run it: a script without a --smoke mode fails below
        smoke = Smoke(_standard)
    for need in smoke.needs:
        need()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", *smoke.args(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - started
    tail = f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    assert done.returncode == 0, (
        f"{script} --smoke exited {done.returncode} in {seconds:.0f}s\n{tail}"
    )
    assert done.stdout.strip(), f"{script} --smoke printed no table\n{tail}"
    for text in smoke.stdout_has:
        assert text in done.stdout, f"{text!r} not in the output of {script}\n{tail}"
    if smoke.output is None:
        return
    written = tmp_path / smoke.output
    assert written.exists(), f"{script} --smoke wrote no {written.name}\n{tail}"
    result = json.loads(written.read_text())
    if smoke.check:
        smoke.check(result, done.stdout)
