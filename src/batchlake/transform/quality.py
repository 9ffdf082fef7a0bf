"""Data-quality gates: checks declared per model, run over its fresh result before commit.

Checks live beside the model, in `models/<zone>/<name>.checks.toml` (next to `<name>.sql`
or a Python model's file), as an array of tables:

    [[check]]
    kind = "not_null"            # not_null | unique | accepted_values | relationships |
    columns = ["customer_id"]    # row_count | freshness | expression | sql
    severity = "error"           # error (default: blocks the commit) | warn

The runner materializes a model's result, registers it under the model's own name in the
engine, and runs every check there. A failing `error` check stops the commit: the table
keeps its previous snapshot and the steps downstream are skipped. A row-level check
(not_null, accepted_values, relationships, expression) with `quarantine = true` instead
moves its failing rows into `<zone>._quarantine_<name>` with a `_reason` column, and the
rest is committed. Every result is stored in the metadata database with the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlglot import exp

from batchlake.config.base import load_toml_tables
from batchlake.errors import ModelError
from batchlake.transform.models import CHECKS_SUFFIX

if TYPE_CHECKING:
    from batchlake.engines import Engine, Materialized, TableSource
    from batchlake.lake import Lake
    from batchlake.transform.models import Dag

ROW_LEVEL = frozenset({"not_null", "accepted_values", "relationships", "expression"})
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

Kind = Literal[
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "row_count",
    "freshness",
    "expression",
    "sql",
]
# A check's result: quarantined means its failing rows were moved out and the rest kept.
CheckStatus = Literal["pass", "fail", "warn", "quarantined"]


class QualityGateError(ModelError):
    """An `error` check failed: the table was not committed."""


class Check(BaseModel):
    """One declared check (a `[[check]]` table of a `.checks.toml` file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    name: str | None = None
    severity: Literal["error", "warn"] = "error"
    columns: list[str] = Field(default_factory=list)  # not_null, unique
    column: str | None = None  # accepted_values, relationships, freshness
    values: list[str | int | float | bool] = Field(default_factory=list)  # accepted_values
    to: str | None = None  # relationships: the table holding the keys, e.g. trusted.customers
    field: str | None = None  # relationships: the key column there (default: same name)
    min: int | None = Field(default=None, ge=0)  # row_count
    max: int | None = Field(default=None, ge=0)  # row_count
    max_age: str | None = None  # freshness: e.g. "36h", "2d", "90m"
    expression: str | None = None  # expression: true for a good row
    sql: str | None = None  # sql: a SELECT returning the failing rows
    quarantine: bool = False

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Check:
        needs: dict[str, list[str]] = {
            "not_null": ["columns"],
            "unique": ["columns"],
            "accepted_values": ["column", "values"],
            "relationships": ["column", "to"],
            "freshness": ["column", "max_age"],
            "expression": ["expression"],
            "sql": ["sql"],
        }
        missing = [key for key in needs.get(self.kind, []) if not getattr(self, key)]
        if missing:
            raise ValueError(f"a {self.kind} check needs {' and '.join(missing)}")
        if self.kind == "row_count" and self.min is None and self.max is None:
            raise ValueError("a row_count check needs min and/or max")
        if self.max_age is not None and not _AGE.match(self.max_age):
            raise ValueError(f"max_age '{self.max_age}' must look like 90m, 36h or 2d")
        if self.quarantine and self.kind not in ROW_LEVEL:
            raise ValueError(
                f"quarantine works for row-level checks ({', '.join(sorted(ROW_LEVEL))}), "
                f"not {self.kind}"
            )
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        target = ",".join(self.columns) or self.column or self.to or ""
        return f"{self.kind}({target})" if target else self.kind


@dataclass
class CheckResult:
    check: Check
    status: CheckStatus
    failing_rows: int | None
    message: str

    def as_row(self, table: str, run_id: str | None, now: datetime) -> dict[str, Any]:
        return {
            "table": table,
            "check": self.check.label,
            "severity": self.check.severity,
            "status": self.status,
            "failing_rows": self.failing_rows,
            "message": self.message,
            "run_id": run_id,
            "checked_at": now,
        }


def add_check_dependencies(dag: Dag, models_dir: Path) -> None:
    """Order a model after the tables its relationships checks read (lineage unchanged)."""
    import dataclasses

    for name, node in list(dag.nodes.items()):
        if node.kind == "ingest":
            continue
        targets = {
            c.to
            for c in load_checks(models_dir, name)
            if c.kind == "relationships" and c.to and c.to != name and c.to in dag.nodes
        }
        if targets - node.depends_on:
            dag.nodes[name] = dataclasses.replace(node, depends_on=node.depends_on | targets)
    from graphlib import CycleError

    try:
        dag.order()
    except CycleError as exc:
        raise ModelError(
            f"relationships checks and models form a cycle: {' -> '.join(exc.args[1])}; "
            "drop one of the relationships checks"
        ) from exc


def checks_file(models_dir: Path, full_name: str) -> Path:
    zone, name = full_name.split(".", 1)
    return models_dir / zone / f"{name}{CHECKS_SUFFIX}"


def load_checks(models_dir: Path, full_name: str) -> list[Check]:
    """The checks declared for a model; [] when it has no checks file."""
    path = checks_file(models_dir, full_name)
    if not path.is_file():
        return []
    return load_toml_tables(path, "check", Check)


# -- SQL of each kind ------------------------------------------------------------------------


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _table(name: str) -> str:
    return ".".join(_ident(part) for part in name.split("."))


def _literal(value: object) -> str:
    return exp.convert(value).sql(dialect="duckdb")


def failing_predicate(check: Check) -> str:
    """A predicate over the alias `__t`, true for a row the row-level check rejects."""
    if check.kind == "not_null":
        return " OR ".join(f"__t.{_ident(c)} IS NULL" for c in check.columns)
    if check.kind == "accepted_values":
        assert check.column is not None
        listed = ", ".join(_literal(v) for v in check.values)
        column = f"__t.{_ident(check.column)}"
        return f"({column} IS NOT NULL AND {column} NOT IN ({listed}))"
    if check.kind == "relationships":
        assert check.column is not None and check.to is not None
        column = _ident(check.column)
        other = _ident(check.field or check.column)
        return (
            f"(__t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {_table(check.to)} AS __r WHERE __r.{other} = __t.{column}))"
        )
    if check.kind == "expression":
        return f"(({check.expression}) IS NOT TRUE)"
    raise ValueError(f"{check.kind} is not a row-level check")


def _parse_age(text: str) -> timedelta:
    match = _AGE.match(text)
    assert match is not None
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def _scalar(engine: Engine, sql: str) -> Any:
    table = engine.query(sql).read_all()
    return table.column(0)[0].as_py() if table.num_rows else None


def evaluate(engine: Engine, table: str, check: Check, now: datetime) -> CheckResult:
    """Run one check over `table` (registered in the engine); never raises for bad data."""
    try:
        failing, message = _measure(engine, table, check, now)
    except Exception as exc:  # a check that cannot run is a failed check, with the reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CheckResult(check, _failed(check), None, f"the check could not run: {reason}")
    if failing == 0:
        return CheckResult(check, "pass", 0, message)
    return CheckResult(check, _failed(check), failing, message)


def _failed(check: Check) -> CheckStatus:
    return "fail" if check.severity == "error" else "warn"


def _measure(engine: Engine, table: str, check: Check, now: datetime) -> tuple[int, str]:
    """(failing rows, or 1 for a table-level failure; a message)."""
    target = _table(table)
    if check.kind in ROW_LEVEL:
        return _measure_rows(engine, target, check)
    if check.kind == "unique":
        return _measure_unique(engine, target, check)
    if check.kind == "row_count":
        return _measure_row_count(engine, target, check)
    if check.kind == "freshness":
        return _measure_freshness(engine, target, check, now)
    return _measure_sql(engine, check)


def _measure_rows(engine: Engine, target: str, check: Check) -> tuple[int, str]:
    """A row-level check: the rows its predicate flags."""
    count = _scalar(
        engine,
        f"SELECT count(*) FROM {target} AS __t WHERE {failing_predicate(check)}",
    )
    return int(count or 0), f"{count or 0} row(s) fail {check.label}"


def _measure_unique(engine: Engine, target: str, check: Check) -> tuple[int, str]:
    """The rows whose value of the check's columns another row shares."""
    cols = ", ".join(_ident(c) for c in check.columns)
    count = _scalar(
        engine,
        f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {target} "
        f"GROUP BY {cols} HAVING count(*) > 1)",
    )
    return int(count or 0), f"{count or 0} row(s) share a value of ({', '.join(check.columns)})"


def _measure_row_count(engine: Engine, target: str, check: Check) -> tuple[int, str]:
    """1 when the table's row count is outside [min, max]."""
    rows = int(_scalar(engine, f"SELECT count(*) FROM {target}") or 0)
    low = check.min if check.min is not None else 0
    high = check.max
    bounds = f"[{low}, {high if high is not None else '∞'}]"
    ok = rows >= low and (high is None or rows <= high)
    return (0 if ok else 1), f"{rows} row(s), expected {bounds}"


def _measure_freshness(engine: Engine, target: str, check: Check, now: datetime) -> tuple[int, str]:
    """1 when the newest value of the check's column is older than `max_age` (or missing)."""
    assert check.column is not None and check.max_age is not None
    newest = _scalar(engine, f"SELECT max({_ident(check.column)}) FROM {target}")
    limit = _parse_age(check.max_age)
    if newest is None:
        return 1, f"no {check.column} value: the table is empty or all NULL"
    if not isinstance(newest, datetime):
        newest = datetime.fromisoformat(str(newest))
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    age = now - newest
    ok = age <= limit
    return (
        0 if ok else 1
    ), f"newest {check.column} is {newest:%Y-%m-%d %H:%M:%S} ({age} old, limit {check.max_age})"


def _measure_sql(engine: Engine, check: Check) -> tuple[int, str]:
    """The rows the check's own SQL returns."""
    assert check.kind == "sql" and check.sql is not None
    body = check.sql.strip().rstrip(";")
    count = int(_scalar(engine, f"SELECT count(*) FROM ({body}) AS __failing") or 0)
    return count, f"{count} row(s) returned by the check's SQL"


# -- the gate ------------------------------------------------------------------------------


@dataclass
class GateOutcome:
    results: list[CheckResult]
    written: Materialized  # what to commit (the input, or its rows minus the quarantined)
    quarantine: Materialized | None = None

    @property
    def blocking(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]


def run_gate(
    engine: Engine,
    table: str,
    checks: list[Check],
    written: Materialized,
    *,
    staging: Callable[[str], str],
    resolve: Callable[[str], TableSource],
    run_id: str,
    now: datetime,
) -> GateOutcome:
    """Check a freshly materialized result (`written`) of `table` before its commit.

    `staging(name)` gives a fresh folder for the files of table `name`; `resolve(name)`
    what the engine reads for another table (relationships). Quarantining rewrites the
    result without the failing rows (the caller deletes the files it no longer needs).
    """
    from batchlake.engines import TableSource

    others = sorted({c.to for c in checks if c.kind == "relationships" and c.to and c.to != table})
    engine.register(resolve(name) for name in others)
    engine.register([TableSource(table, written.files, written.schema)])
    results: list[CheckResult] = []
    quarantine: Materialized | None = None
    isolating = [c for c in checks if c.quarantine]
    if isolating:
        results, written, quarantine = _quarantine_failing(
            engine, table, isolating, written, staging, run_id, now
        )
    results += [evaluate(engine, table, c, now) for c in checks if not c.quarantine]
    return GateOutcome(results, written, quarantine)


def _quarantine_failing(
    engine: Engine,
    table: str,
    isolating: list[Check],
    written: Materialized,
    staging: Callable[[str], str],
    run_id: str,
    now: datetime,
) -> tuple[list[CheckResult], Materialized, Materialized | None]:
    """Run the quarantining checks; split the rows they flag from `written`.

    Returns their results, what remains to check and commit (registered in the engine
    as `table`), and the quarantined rows (None when no row failed).
    """
    from batchlake.engines import TableSource

    measured = [evaluate(engine, table, c, now) for c in isolating]
    bad = [r for r in measured if r.failing_rows]
    broken = [r for r in measured if r.failing_rows is None]  # the check could not run
    results = broken + [r for r in measured if r.failing_rows == 0]
    if not bad:
        return results, written, None
    quarantine, written = _split(engine, table, bad, written, staging, run_id)
    for r in bad:
        r.status = "quarantined"
        r.message += f"; moved to {quarantine_name(table)}"
    engine.register([TableSource(table, written.files, written.schema)])
    return results + bad, written, quarantine


def gate_before_commit(
    lake: Lake,
    engine: Engine,
    table: str,
    written: Materialized,
    *,
    run_id: str,
    location: str,
    resolve: Callable[[str], TableSource],
) -> Materialized:
    """Run `table`'s checks over its new result (files under `location`), before the commit.

    Stores the results; returns what to commit (without quarantined rows, whose table it
    appends to); raises QualityGateError, deleting the new files and leaving the table's
    current snapshot in place, when an `error` check fails.
    """
    from batchlake.metadata import utcnow

    checks = load_checks(lake.project.models_dir, table)
    if not checks:
        return written
    storage, now = lake.storage, utcnow()

    def staging(name: str) -> str:
        if name == table:  # inside the write's own folder, so its clean-up covers it
            return f"{location}/passed"
        other = lake.catalog.staging_location(name, run_id)
        storage.makedirs(other.rsplit("/", 1)[0])
        return other

    def delete(files: list[str]) -> None:
        for path in files:
            storage.delete(path)

    try:
        outcome = run_gate(
            engine, table, checks, written, staging=staging, resolve=resolve, run_id=run_id, now=now
        )
    except BaseException:
        delete(written.files)
        raise
    lake.metadata.record_quality([r.as_row(table, run_id, now) for r in outcome.results])
    if outcome.written is not written:
        delete(written.files)  # replaced by the rows that passed
    if outcome.blocking:
        delete(outcome.written.files)
        if outcome.quarantine is not None:
            delete(outcome.quarantine.files)
        raise QualityGateError(
            f"quality gate failed, {table} not committed (its previous snapshot stays): "
            f"{describe_failures(outcome.blocking)}; see 'batchlake quality {table}'"
        )
    if outcome.quarantine is not None:
        append_quarantine(lake, table, outcome.quarantine, run_id)
    return outcome.written


def quarantine_name(table: str) -> str:
    zone, name = table.split(".", 1)
    return f"{zone}._quarantine_{name}"


def _split(
    engine: Engine,
    table: str,
    bad: list[CheckResult],
    written: Materialized,
    staging: Callable[[str], str],
    run_id: str,
) -> tuple[Materialized, Materialized]:
    target = _table(table)
    predicates = [(r.check.label, failing_predicate(r.check)) for r in bad]
    any_bad = " OR ".join(f"({p})" for _, p in predicates)
    reasons = ", ".join(f"CASE WHEN {p} THEN {_literal(label)} END" for label, p in predicates)
    rejected = engine.materialize(
        f"SELECT __t.*, concat_ws('; ', {reasons}) AS _reason, {_literal(run_id)} AS _run_id "
        f"FROM {target} AS __t WHERE {any_bad}",
        staging(quarantine_name(table)),
    )
    kept = engine.materialize(
        f"SELECT __t.* FROM {target} AS __t WHERE NOT ({any_bad})", staging(table)
    )
    return rejected, kept


def append_quarantine(lake: Lake, table: str, rejected: Materialized, run_id: str) -> None:
    """Append quarantined rows to `<zone>._quarantine_<name>` (created on first use)."""
    from batchlake.catalog import PROP_RUN, _evolve_schema

    target = lake.catalog.ensure_table(quarantine_name(table), rejected.schema)
    with target.transaction() as tx:
        _evolve_schema(tx, target, rejected.schema)
        if rejected.files:
            tx.add_files(rejected.files, snapshot_properties={PROP_RUN: run_id})


def describe_failures(results: Iterable[CheckResult]) -> str:
    return "; ".join(f"{r.check.label}: {r.message}" for r in results)
