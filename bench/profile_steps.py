"""Where a batchlake model step spends its time: SQL, catalog, hashing (wall and CPU).

    python bench/profile_steps.py --project DIR [--select 'refined.*'] [--full-refresh]
    python bench/profile_steps.py --smoke [--workdir DIR]   # a new 300-invoice lake

Runs the selected steps in this process, as `batchlake run` does, with timers wrapped
around the engine and catalog calls a model step makes, and prints per step:

* ``sql``: the model's ``COPY ... TO`` in DuckDB (``materialize`` minus the two below);
* ``describe``: the ``DESCRIBE`` that finds columns to cast (``_portable_select``);
* ``hash``: the content hash, a second scan of the written result (``_content_hash``);
* ``register``: planning input files (PyIceberg scan) and creating the views;
* ``catalog``: every other catalog call (load, info, exists, ensure_table, and
  ``replace``: the Iceberg commit, which reads the new files' footers);
* ``other``: the rest of the step (metadata records, bookkeeping).

CPU seconds count all threads of the process (DuckDB's too), so they stay meaningful on a
busy machine. The timers patch private methods of batchlake; a refactor may need them
updated here (``--smoke``, run by tests/integration/test_bench_smoke.py, says when). This
is a diagnostic, not part of the benchmark's figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_CATALOG = ("info", "load", "exists", "ensure_table", "replace", "staging_location")

# step -> phase -> [wall, cpu]
spent: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))


class _Current:
    """The step being built, and how deep we are in nested timed calls."""

    step = "(setup)"
    depth = 0


def _wrap(owner: type, method: str, phase: str) -> None:
    """Replace `owner.method` by a version adding its wall and CPU time to `phase`."""
    original: Callable[..., Any] = getattr(owner, method)

    def timed(*args: Any, **kwargs: Any) -> Any:
        if _Current.depth:  # nested call of another timed method: the outer one counts
            return original(*args, **kwargs)
        _Current.depth += 1
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            _Current.depth -= 1
            cell = spent[_Current.step][phase]
            cell[0] += time.perf_counter() - wall
            cell[1] += time.process_time() - cpu

    setattr(owner, method, timed)


def _install() -> None:
    from batchlake.catalog import LakeCatalog
    from batchlake.engines.duckdb import DuckDBEngine
    from batchlake.run.runner import Runner

    for method in _CATALOG:
        _wrap(LakeCatalog, method, "catalog")
    _wrap(DuckDBEngine, "register", "register")
    _wrap(DuckDBEngine, "materialize", "materialize")
    original_build = Runner._build

    def build(self: Any, engine: Any, model: Any, run_id: str, full_refresh: bool) -> Any:
        _Current.step = model.full_name
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return original_build(self, engine, model, run_id, full_refresh)
        finally:
            cell = spent[model.full_name]["total"]
            cell[0] += time.perf_counter() - wall
            cell[1] += time.process_time() - cpu

    Runner._build = build  # type: ignore[method-assign]

    # Inside materialize, split off DESCRIBE and the content hash (called from it).
    for method, phase in (("_portable_select", "describe"), ("content_hash", "hash")):
        inner: Callable[..., Any] = getattr(DuckDBEngine, method)

        def split(*args: Any, _inner: Callable[..., Any] = inner, _phase: str = phase) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return _inner(*args)
            finally:
                cell = spent[_Current.step][_phase]
                cell[0] += time.perf_counter() - wall
                cell[1] += time.process_time() - cpu

        setattr(DuckDBEngine, method, split)


def _smoke_project(workdir: Path) -> Path:
    """A fresh Chinook lake over a generated 300-invoice store, built in this process as
    `batchlake run` builds it (before the timers are installed)."""
    import shutil

    from batchlake.demo.generator import generate
    from batchlake.demo.scaffold import create_project
    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    project = workdir / "project"
    if project.exists():
        shutil.rmtree(project)
    create_project(project, example="chinook")
    (project / "data").mkdir(exist_ok=True)
    generate(project / "data" / "chinook.sqlite", invoices=300, seed=42)
    built = Runner(Lake.open(project)).run()
    if not built.ok:
        failed = [(s.name, s.message) for s in built.steps if s.status != "success"]
        raise SystemExit(f"the smoke lake did not build: {failed}")
    return project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, help="an existing lake project")
    parser.add_argument("--select", action="append", default=None)
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="build a 300-invoice Chinook lake in --workdir, then profile its refined "
        "steps with a full refresh (a check that this script still works)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-profile-smoke"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.project = _smoke_project(args.workdir)
        args.select, args.full_refresh = args.select or ["refined.*"], True
    elif args.project is None:
        parser.error("--project is required (or --smoke)")
    _install()
    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    result = Runner(Lake.open(args.project)).run(args.select, full_refresh=args.full_refresh)
    print(f"run {result.run_id}: {result.status} in {result.seconds:.2f}s (wall, CPU seconds)")
    phases = ("sql", "describe", "hash", "register", "catalog", "other")
    print(f"{'step':34s} {'total':>13s} " + " ".join(f"{p:>13s}" for p in phases))
    for step in result.steps:
        if step.name not in spent:
            print(f"{step.name:34s} {step.seconds:6.2f}  ({step.status})")
            continue
        t = spent[step.name]
        # A Python step has no materialize: its outputs' content hash is timed on its own.
        python = t["materialize"][0] == 0.0
        sql = [
            0.0 if python else t["materialize"][i] - t["describe"][i] - t["hash"][i] for i in (0, 1)
        ]
        parts = ("materialize", "register", "catalog", *(("hash",) if python else ()))
        known = [sum(t[p][i] for p in parts) for i in (0, 1)]
        other = [t["total"][i] - known[i] for i in (0, 1)]
        cells = {"sql": sql, "other": other, **{p: t[p] for p in phases[1:5]}}
        line = " ".join(f"{cells[p][0]:6.2f}/{cells[p][1]:6.2f}" for p in phases)
        print(f"{step.name:34s} {t['total'][0]:6.2f}/{t['total'][1]:6.2f} {line}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
