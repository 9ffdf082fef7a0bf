"""The batchlake side of the benchmark: the store database, fresh projects, run records.

Everything batchlake does is driven through its command line in child processes (what a
user runs); this module only prepares projects and reads back what runs recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._measure import run_measured

BATCHLAKE = [sys.executable, "-m", "batchlake"]
SEGMENTATION_STEP = "python.customer_segments"
# Stage -> (step name prefixes, step kind). The refined stage is every step that writes the
# refined zone: the SQL models and the Python steps (which run after them).
STAGES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "ingest": ((), "ingest"),
    "trusted": (("trusted.",), "model"),
    "refined": (("refined.", "python."), "model"),
    "refined_sql": (("refined.",), "model"),
    "python": (("python.",), "model"),
}
FOUR_ANALYSES = (
    "refined.sales_by_day",
    "refined.top_artists_by_month",
    "refined.sales_by_weekday",
    "refined.weekend_vs_weekday",
)

_GENERATE = """
import json, sys
from pathlib import Path
from batchlake.demo.generator import generate
s = generate(Path(sys.argv[1]), invoices=int(sys.argv[2]), seed=int(sys.argv[3]))
print(json.dumps({"seconds": s.seconds, "invoices": s.invoices,
                  "invoice_lines": s.invoice_lines, "customers": s.customers,
                  "tracks": s.tracks}))
"""


def child_env() -> dict[str, str]:
    """The environment of batchlake children: the project's own generated store, no colour."""
    env = dict(os.environ)
    env.pop("CHINOOK_URL", None)
    env.pop("BATCHLAKE_PROJECT", None)
    env["NO_COLOR"] = "1"
    env["TERM"] = "dumb"
    return env


def store_database(
    cache_dir: Path, *, invoices: int, seed: int, regenerate: bool, log_dir: Path
) -> tuple[Path, dict[str, Any]]:
    """The generated store for (invoices, seed): made now, or reused from an earlier run.

    Generation costs minutes at full size and is not part of the pipeline, so its file is
    kept; the figures recorded when it was made are returned with ``reused`` set.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    db = cache_dir / f"chinook-{invoices}-seed{seed}.sqlite"
    stats_file = db.with_suffix(".json")
    if db.exists() and stats_file.exists() and not regenerate:
        return db, {**json.loads(stats_file.read_text()), "reused": True}
    m = run_measured(
        "generate",
        [sys.executable, "-c", _GENERATE, str(db), str(invoices), str(seed)],
        log_dir=log_dir,
        env=child_env(),
    )
    stats = json.loads(m.stdout.strip().splitlines()[-1])
    stats.update(
        wall_seconds=m.wall_seconds, peak_rss_bytes=m.peak_rss_bytes, db_bytes=db.stat().st_size
    )
    stats_file.write_text(json.dumps(stats, indent=2))
    return db, {**stats, "reused": False}


def fresh_project(project: Path, db: Path) -> None:
    """A new Chinook lake project at `project` whose store is (a hard link to) `db`."""
    from batchlake.demo.scaffold import create_project

    if project.exists():
        shutil.rmtree(project)
    create_project(project, example="chinook")
    target = project / "data" / "chinook.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(db, target)
    except OSError:  # another filesystem: copy instead
        shutil.copy2(db, target)


def _cli_json(*args: str) -> Any:
    done = subprocess.run(
        [*BATCHLAKE, *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    return json.loads(done.stdout)


@dataclass
class RunRecord:
    """What batchlake recorded about one run: its id, seconds and steps."""

    run_id: str
    command: str
    status: str
    seconds: float
    steps: list[dict[str, Any]]

    def step_seconds(self, name: str) -> float:
        return next(float(s["seconds"] or 0.0) for s in self.steps if s["step"] == name)

    def stage_steps(self) -> dict[str, list[str]]:
        """The steps each stage figure sums (see STAGES)."""
        names: dict[str, list[str]] = {}
        for stage, (prefixes, kind) in STAGES.items():
            names[stage] = [
                s["step"]
                for s in self.steps
                if (kind is None or s["kind"] == kind)
                and (not prefixes or s["step"].startswith(prefixes))
            ]
        return names

    def stages(self) -> dict[str, float]:
        """Seconds per stage: the sum of the recorded seconds of its steps."""
        by_name = {s["step"]: float(s["seconds"] or 0.0) for s in self.steps}
        return {
            stage: sum(by_name[name] for name in names)
            for stage, names in self.stage_steps().items()
        }

    def four_analyses(self) -> float:
        return sum(self.step_seconds(name) for name in FOUR_ANALYSES)


def last_run(project: Path) -> RunRecord:
    """The most recent run of the project, with its steps, from `batchlake runs`."""
    latest = _cli_json("runs", "--project", str(project), "--limit", "1")[0]
    steps = _cli_json("runs", latest["run_id"], "--project", str(project))
    if latest["status"] != "success":
        raise RuntimeError(f"batchlake run {latest['run_id']} ended {latest['status']}")
    return RunRecord(
        latest["run_id"], latest["command"], latest["status"], float(latest["seconds"]), steps
    )


def table_files(project: Path, zone: str) -> dict[str, list[str]]:
    """Local paths of the Parquet files of every table of a zone, as the catalog lists them."""
    from batchlake.lake import Lake

    lake = Lake.open(project)
    files: dict[str, list[str]] = {}
    for full_name in lake.catalog.table_names(zone):
        table = lake.catalog.load(full_name)
        files[full_name.split(".", 1)[1]] = [
            f.removeprefix("file://") for f in lake.catalog.data_files(table)
        ]
    return files


def raw_files(project: Path, source: str = "chinook") -> dict[str, list[str]]:
    """The raw Parquet files of every entity of a source, as capture wrote them."""
    root = project / "lake" / "raw" / source
    return {
        entity.name: sorted(str(f) for f in entity.rglob("*.parquet") if "_state" not in f.parts)
        for entity in sorted(root.iterdir())
        if entity.is_dir()
    }
