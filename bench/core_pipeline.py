"""On-demand benchmark of batchlake's core pipeline against a DuckDB floor and pandas.

    python bench/core_pipeline.py [--invoices 2000000] [--workdir /tmp/batchlake-bench]
                                  [--repeat 1] [--seed 42] [--regenerate]
                                  [--quiet-wait 120] [--quiet-threshold 20] [--smoke]

For each repeat, on a fresh Chinook lake project over the same generated store:

1. ``batchlake run`` (child process): wall time, seconds per stage from the run record
   (ingest, trusted, refined = SQL models + Python steps), peak RSS; then ``batchlake run
   --select 'refined.*' --full-refresh``: the refined stage alone (the 8 SQL models and
   the 2 Python steps, segmentation included), on a lake that already exists.
2. the floors, one per stage of the run: the capture (``_floor_capture.py``: every table
   of the store to Parquet with DuckDB's SQLite scanner), the trusted and the refined SQL
   (``_floor.py``: the zone's model SQL in a plain DuckDB connection over the same raw or
   trusted Parquet files), and the Python steps (``_floor_python.py``: the same library
   calls on the same Parquet input, no lake around them);
3. pandas (``_pandas_sales.py``): the four sales analyses as usual pandas code;
4. (first repeat) the segmentation step's tables against the exhaustive fit of the same
   features (``_segments.py``): same k, adjusted Rand index, silhouette.

Each measurement records wall and CPU seconds, peak RSS and how busy the machine was
with other work. Figures are the median over repeats; all samples, the machine and the
cross-checks go to ``bench/results/core_pipeline.json`` (and a Markdown table beside it).
``--smoke`` runs everything on 3,000 invoices without waiting for a quiet machine: a check
that the benchmark works (CI), not figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _lake, _report, _segments
from bench._check import run_checks, stage_checks
from bench._measure import Measurement, run_measured
from bench._summary import summarize

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--invoices", type=int, default=None, help="≈5 lines each (default 2,000,000)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-bench"))
    parser.add_argument("--repeat", type=int, default=1, help="repeats; figures are medians")
    parser.add_argument(
        "--regenerate", action="store_true", help="generate the store even if cached"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="before each measurement, wait up to this many seconds for a quiet machine "
        "(default 120)",
    )
    parser.add_argument(
        "--quiet-threshold", type=float, default=20.0, help="'quiet': CPU use below this %%"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "core_pipeline.json")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a check that the benchmark runs: 3,000 invoices, no waiting (seconds, not figures)",
    )
    args = parser.parse_args(argv)
    if args.invoices is None:
        args.invoices = 3_000 if args.smoke else 2_000_000
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if args.smoke else 120.0
    return args


QUIET = {"wait": 0.0, "threshold": 20.0}  # set from the command line


def _measured(label: str, argv: list[str], logs: Path, env: dict[str, str] | None) -> Measurement:
    """`run_measured`, after waiting for a quiet machine as the command line asked."""
    m = run_measured(
        label,
        argv,
        log_dir=logs,
        env=env,
        quiet_wait=QUIET["wait"],
        quiet_threshold=QUIET["threshold"],
    )
    print(
        f"         {label}: {m.wall_seconds:.2f}s wall, {m.cpu_seconds:.2f}s CPU, "
        f"{m.peak_rss_bytes / 1e9:.2f} GB peak, contention {m.contention:.0%}",
        file=sys.stderr,
        flush=True,
    )
    return m


def _cost(m: Measurement) -> dict[str, Any]:
    """The process-level figures of one measurement (wall time is added by callers)."""
    return {
        "peak_rss_bytes": m.peak_rss_bytes,
        "peak_rss_tree_bytes": m.peak_rss_tree_bytes,
        "ru_maxrss_bytes": m.ru_maxrss_bytes,
        "parent_rss_bytes": m.parent_rss_bytes,
        "cpu_seconds": m.cpu_seconds,
        "contention": m.contention,
        "busy_before_percent": m.busy_before_percent,
    }


def _batchlake(project: Path, logs: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole pipeline on the fresh project, then the refined stage alone."""
    env = _lake.child_env()
    m = _measured("batchlake-run", [*_lake.BATCHLAKE, "run", "--project", str(project)], logs, env)
    record = _lake.last_run(project)
    full = {
        "run_id": record.run_id,
        "wall_seconds": m.wall_seconds,
        "recorded_seconds": record.seconds,
        **{f"{stage}_seconds": s for stage, s in record.stages().items()},
        "four_analyses_seconds": record.four_analyses(),
        **_cost(m),
        "stage_steps": record.stage_steps(),
        "steps": record.steps,
    }
    m = _measured(
        "batchlake-refined",
        [
            *_lake.BATCHLAKE,
            "run",
            "--project",
            str(project),
            "--select",
            "refined.*",
            "--full-refresh",
        ],
        logs,
        env,
    )
    record = _lake.last_run(project)
    stages = record.stages()
    refined = {
        "run_id": record.run_id,
        "wall_seconds": m.wall_seconds,
        "recorded_seconds": record.seconds,
        "refined_seconds": stages["refined"],
        "refined_sql_seconds": stages["refined_sql"],
        "python_seconds": stages["python"],
        "segmentation_seconds": record.step_seconds(_lake.SEGMENTATION_STEP),
        "four_analyses_seconds": record.four_analyses(),
        **_cost(m),
        "stage_steps": record.stage_steps(),
        "steps": {s["step"]: s["seconds"] for s in record.steps},
    }
    return full, refined


def _script(name: str, label: str, spec: dict[str, Any], work: Path, logs: Path) -> dict[str, Any]:
    """Run one of the contender scripts with its spec; return its own figures plus cost."""
    spec_path, result_path = work / f"{label}-spec.json", work / f"{label}-result.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    m = _measured(
        label, [sys.executable, str(BENCH_DIR / name), str(spec_path), str(result_path)], logs, None
    )
    return {"wall_seconds": m.wall_seconds, **_cost(m), **json.loads(result_path.read_text())}


def _python_floor_spec(project: Path, refined: dict[str, list[str]], out: Path) -> dict[str, Any]:
    """What `_floor_python.py` needs: the steps' inputs and the project's parameters."""
    from batchlake.lake import Lake

    python = Lake.open(project).settings.python
    segments = {
        **_segments.step_params(project),
        "method": str(python.get("customer_segments", {}).get("method", "screened")),
    }
    forecast = python.get("sales_forecast", {})
    return {
        "customer_features": refined["customer_features"],
        "sales_by_month": refined["sales_by_month"],
        "segments": segments,
        "forecast": {
            "horizon": int(forecast.get("horizon", 3)),
            "backtest": int(forecast.get("backtest", 6)),
        },
        "out_dir": str(out),
    }


def _stage_floors(
    index: int, project: Path, db: Path, work: Path, logs: Path, say: Any
) -> dict[str, dict[str, Any]]:
    """The capture, trusted and Python-step floors over the inputs the run had."""
    say(f"[repeat {index}] floors: capture, trusted SQL, Python steps ...")
    capture = _script(
        "_floor_capture.py",
        "floor-capture",
        {"sqlite": str(db), "out_dir": str(work / "floor-capture-out")},
        work,
        logs,
    )
    trusted = _script(
        "_floor.py",
        "floor-trusted",
        {
            "zone": "trusted",
            "models_dir": str(project / "models" / "trusted"),
            "inputs": {f"raw.chinook.{n}": f for n, f in _lake.raw_files(project).items()},
            "out_dir": str(work / "floor-trusted-out"),
        },
        work,
        logs,
    )
    refined = _lake.table_files(project, "refined")
    python = _script(
        "_floor_python.py",
        "floor-python",
        _python_floor_spec(project, refined, work / "floor-python-out"),
        work,
        logs,
    )
    return {"floor_capture": capture, "floor_trusted": trusted, "floor_python": python}


def one_repeat(index: int, db: Path, workdir: Path, say: Any) -> dict[str, Any]:
    """Every measurement once, on a fresh project; returns the raw sample."""
    project = workdir / "project"
    work = workdir / f"repeat-{index}"
    logs = work / "logs"
    _lake.fresh_project(project, db)
    say(f"[repeat {index}] batchlake run on a fresh project ...")
    full, refined = _batchlake(project, logs)
    floors = _stage_floors(index, project, db, work, logs, say)
    trusted = _lake.table_files(project, "trusted")
    say(f"[repeat {index}] floor: refined SQL in plain DuckDB ...")
    floor = _script(
        "_floor.py",
        "floor",
        {
            "zone": "refined",
            "models_dir": str(project / "models" / "refined"),
            "inputs": {f"trusted.{name}": files for name, files in trusted.items()},
            "out_dir": str(work / "floor-out"),
        },
        work,
        logs,
    )
    four = [name.split(".", 1)[1] for name in _lake.FOUR_ANALYSES]
    floor["four_analyses_seconds"] = sum(floor["models"][n]["seconds"] for n in four)
    say(f"[repeat {index}] pandas: the four sales analyses ...")
    pandas = _script(
        "_pandas_sales.py",
        "pandas",
        {"sales_files": trusted["sales"], "out_dir": str(work / "pandas-out")},
        work,
        logs,
    )
    refined_files = _lake.table_files(project, "refined")
    checks = run_checks(work / "floor-out", work / "pandas-out", refined_files)
    if index == 1:  # the same inputs every repeat; the trusted check scans 10M rows twice
        stages = stage_checks(
            work, _lake.raw_files(project), trusted, _segments.step_tables(refined_files)
        )
        checks.update(stages)
    quality = None
    if index == 1:  # the features are the same every repeat: one exhaustive fit is enough
        say(f"[repeat {index}] the segmentation step against the exhaustive fit ...")
        quality = _segments.step_vs_exhaustive(project, refined_files)
        checks["segmentation_vs_exhaustive"] = {
            "customer_segments": _segments.quality_verdict(quality)
        }
    return {
        "batchlake_run": full,
        "batchlake_refined": refined,
        "floor": floor,
        **floors,
        "pandas": pandas,
        "checks": checks,
        "segmentation_quality": quality,
        "trusted_sales_files": len(trusted["sales"]),
        "trusted_sales_bytes": sum(Path(f).stat().st_size for f in trusted["sales"]),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    workdir = args.workdir.resolve()
    QUIET.update(wait=args.quiet_wait, threshold=args.quiet_threshold)
    started = time.time()

    def say(text: str) -> None:
        print(f"{time.time() - started:7.1f}s  {text}", file=sys.stderr, flush=True)

    say(f"store database: {args.invoices:,} invoices, seed {args.seed} ...")
    db, generation = _lake.store_database(
        workdir / "cache",
        invoices=args.invoices,
        seed=args.seed,
        regenerate=args.regenerate,
        log_dir=workdir / "logs",
    )
    say(
        f"store ready ({'reused' if generation['reused'] else 'generated'}: "
        f"{generation['invoice_lines']:,} lines, {generation['seconds']:.1f}s to generate)"
    )
    samples: list[dict[str, Any]] = []
    for i in range(1, args.repeat + 1):
        samples.append(one_repeat(i, db, workdir, say))
        if i < args.repeat:  # what is measured so far survives an interrupted run
            _write(args, _results(args, workdir, generation, samples, started))
            say(f"wrote {args.output} ({i} of {args.repeat} repeats)")
    results = _results(args, workdir, generation, samples, started)
    markdown = _write(args, results)
    _report.print_tables(results)
    say(f"wrote {args.output} and {markdown}")
    failed = [
        name
        for s in samples
        for checks in s["checks"].values()
        for name, verdict in checks.items()
        if not verdict.startswith("equal")
    ]
    if failed:
        say(f"cross-checks FAILED for: {', '.join(sorted(set(failed)))}")
        return 2
    return 0


def _write(args: argparse.Namespace, results: dict[str, Any]) -> Path:
    """The JSON at --output and the Markdown tables beside it."""
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    markdown = args.output.with_suffix(".md")
    markdown.write_text(_report.markdown(results))
    return markdown


def _results(
    args: argparse.Namespace,
    workdir: Path,
    generation: dict[str, Any],
    samples: list[dict[str, Any]],
    started: float,
) -> dict[str, Any]:
    return {
        "benchmark": "core_pipeline",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/core_pipeline.py " + " ".join(sys.argv[1:]),
        "params": {
            "invoices": args.invoices,
            "seed": args.seed,
            "repeat": args.repeat,
            "workdir": str(workdir),
            "quiet_wait": args.quiet_wait,
            "quiet_threshold": args.quiet_threshold,
            "smoke": args.smoke,
        },
        "machine": _report.machine_info(),
        "generation": generation,
        "summary": summarize(samples),
        "samples": samples,
        "seconds_benchmark": time.time() - started,
        "repeats_done": len(samples),
    }


if __name__ == "__main__":
    sys.exit(main())
