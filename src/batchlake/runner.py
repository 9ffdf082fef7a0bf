"""Executes the DAG of a lake project: captures, then models, in dependency order.

One run at a time per project (a lock in the metadata database, renewed while the run
lives, taken over when its holder died). Every run and step is recorded. A model is
rebuilt only when its SQL or an input changed, and its new result is committed only
when it differs from the current one; a failed step marks its downstream steps
`upstream_failed` while independent steps carry on.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from batchlake.catalog import PROP_CONTENT, PROP_INPUTS, PROP_UPSTREAM
from batchlake.engines import Engine, TableSource
from batchlake.errors import BatchlakeError, LockError, SourceError
from batchlake.ingest import ingest_entity
from batchlake.lake import Lake
from batchlake.metadata import utcnow
from batchlake.models import Dag, Model, Node
from batchlake.sources import Source, open_source

RUN_LOCK = "run"


@dataclass
class StepResult:
    name: str
    kind: str
    status: str  # success | unchanged | duplicate | failed | upstream_failed
    seconds: float = 0.0
    rows: int | None = None
    bytes: int | None = None
    snapshot_id: int | None = None
    message: str | None = None
    rejected: int = 0
    engine: str | None = None  # the engine that built a model


@dataclass
class RunResult:
    run_id: str
    status: str
    seconds: float
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def count(self, status: str) -> int:
        return sum(1 for s in self.steps if s.status == status)


class Reporter(Protocol):
    """Receives progress; the CLI draws it, tests may record it."""

    def step_started(self, node: Node, position: int, total: int) -> None: ...

    def rows_read(self, node: Node, rows: int) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...


class _Silent:
    def step_started(self, node: Node, position: int, total: int) -> None:
        pass

    def rows_read(self, node: Node, rows: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


def new_run_id() -> str:
    return f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


class Runner:
    """Runs selected steps of a lake project."""

    def __init__(self, lake: Lake, reporter: Reporter | None = None) -> None:
        self.lake = lake
        self.reporter: Reporter = reporter or _Silent()
        self._sources: dict[str, Source] = {}
        self._inputs: dict[str, tuple[str, TableSource]] = {}
        self._unreachable: dict[str, SourceError] = {}

    def build_dag(self, select: list[str] | None = None) -> Dag:
        """Captures of every source's entities, then the models.

        A source that cannot be reached (SourceError) does not stop the run: its entities
        known from earlier captures, and those the models read, become steps that fail with
        its error, so what depends on them is skipped and everything else carries on.
        """
        selectors = [part for text in select or [] for part in text.replace(",", " ").split()]
        captures_only = bool(selectors) and all(s.startswith("raw.") for s in selectors)
        models = {} if captures_only else self.lake.models()  # `ingest` needs no models
        raw: list[str] = []
        self._unreachable.clear()
        for name in self.lake.settings.sources:
            try:
                raw += [f"raw.{name}.{entity}" for entity in self._source(name).entities()]
            except SourceError as exc:
                self._unreachable[name] = exc
                known = {f"raw.{s}.{e}" for s, e in self.lake.metadata.raw_entities() if s == name}
                wanted = {
                    dep
                    for m in models.values()
                    for dep in m.depends_on
                    if dep.startswith(f"raw.{name}.")
                }
                raw += sorted(known | wanted)
        return Dag.build(models, raw)

    def _source(self, name: str) -> Source:
        if name not in self._sources:
            self._sources[name] = open_source(self.lake.project, name)
        return self._sources[name]

    def run(
        self,
        select: list[str] | None = None,
        *,
        full_refresh: bool = False,
        command: str = "run",
        wait_seconds: float | None = None,
    ) -> RunResult:
        run_id = new_run_id()
        clock = time.perf_counter()
        self._inputs.clear()
        metadata = self.lake.metadata
        with self._lock(run_id, wait_seconds):
            metadata.abandon_stale_runs()
            metadata.start_run(run_id, command)
            result = RunResult(run_id, "running", 0.0)
            try:
                dag = self.build_dag(select)
                names = dag.select(select)
                self._execute(dag, names, run_id, full_refresh, result)
                failed = any(s.status in ("failed", "upstream_failed") for s in result.steps)
                result.status = "failed" if failed else "success"
                first_error = next((s.message for s in result.steps if s.status == "failed"), None)
                metadata.finish_run(run_id, result.status, first_error)
            except BaseException as exc:
                result.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                metadata.finish_run(run_id, result.status, _message(exc))
                raise
            finally:
                for source in self._sources.values():
                    source.close()
                self._sources.clear()
                result.seconds = time.perf_counter() - clock
        return result

    def _execute(
        self, dag: Dag, names: list[str], run_id: str, full_refresh: bool, result: RunResult
    ) -> None:
        temp = self.lake.project.state_dir / "tmp" / run_id
        engine: Engine | None = None
        broken: set[str] = set()
        try:
            for position, name in enumerate(names, start=1):
                node = dag.nodes[name]
                self.reporter.step_started(node, position, len(names))
                if node.depends_on & broken:
                    step = StepResult(
                        name,
                        node.kind,
                        "upstream_failed",
                        message=f"skipped: {', '.join(sorted(node.depends_on & broken))} failed",
                    )
                    self._record(run_id, step)
                    broken.add(name)
                    result.steps.append(step)
                    self.reporter.step_finished(step)
                    continue
                if node.kind == "model" and engine is None:
                    # One engine and the catalog for the run, opened outside any step's time.
                    temp.mkdir(parents=True, exist_ok=True)
                    engine = self.lake.engine(temp_directory=str(temp))
                    _ = self.lake.catalog.iceberg
                step_id = self.lake.metadata.start_step(run_id, name, node.kind)
                clock = time.perf_counter()
                try:
                    if node.kind == "ingest":
                        step = self._ingest(node, run_id, full_refresh)
                    else:
                        assert engine is not None
                        assert node.model is not None
                        step = self._build(engine, node.model, run_id, full_refresh)
                except Exception as exc:
                    step = StepResult(name, node.kind, "failed", message=_message(exc))
                    step.message = (step.message or "") + _debug_trace(exc)
                    broken.add(name)
                step.seconds = time.perf_counter() - clock
                self._inputs.pop(name, None)  # its next reader plans the new version
                self.lake.metadata.finish_step(
                    step_id,
                    step.status,
                    rows_out=step.rows,
                    bytes=step.bytes,
                    snapshot_id=str(step.snapshot_id) if step.snapshot_id else None,
                    message=step.message,
                )
                if step.message and "\n" in step.message:
                    step.message = step.message.splitlines()[0]
                result.steps.append(step)
                self.reporter.step_finished(step)
        finally:
            if engine is not None:
                engine.close()
            shutil.rmtree(temp, ignore_errors=True)

    def _record(self, run_id: str, step: StepResult) -> None:
        step_id = self.lake.metadata.start_step(run_id, step.name, step.kind)
        self.lake.metadata.finish_step(step_id, step.status, message=step.message)

    def _ingest(self, node: Node, run_id: str, full_refresh: bool) -> StepResult:
        if node.source in self._unreachable:
            raise self._unreachable[node.source]
        outcome = ingest_entity(
            self._source(node.source),
            node.entity,
            storage=self.lake.storage,
            metadata=self.lake.metadata,
            run_id=run_id,
            on_rows=lambda n: self.reporter.rows_read(node, n),
            full_refresh=full_refresh,
        )
        status, message = {
            "written": ("success", None),
            "duplicate": ("duplicate", f"same data as batch {outcome.duplicate_of}"),
            "empty": ("unchanged", "nothing new since the last capture"),
            "unchanged": ("unchanged", outcome.note or "the source reports no change"),
        }[outcome.status]
        notes = [message] if message else []
        if outcome.rejected:
            notes.append(f"{outcome.rejected} bad row(s) quarantined")
        if outcome.skipped:
            notes.append(f"{outcome.skipped} bad row(s) skipped")
        return StepResult(
            node.name,
            "ingest",
            status,
            rows=outcome.rows,
            bytes=outcome.bytes,
            message="; ".join(notes) or None,
            rejected=outcome.rejected + outcome.skipped,
        )

    def _input(self, name: str) -> tuple[str, TableSource]:
        """A table's version token and what an engine reads, planned once per run."""
        if name not in self._inputs:
            if name.startswith("raw."):
                source = self.lake.raw_source(name)
                # Each written batch is one file named by its batch id: the list is the version.
                token = hashlib.sha256(",".join(source.files).encode()).hexdigest()
            else:
                table = self.lake.catalog.load(name)
                snapshot = table.current_snapshot()
                token = str(snapshot.snapshot_id if snapshot else None)
                source = TableSource(
                    name, self.lake.catalog.data_files(table), table.schema().as_arrow()
                )
            self._inputs[name] = (token, source)
        return self._inputs[name]

    def _build(self, engine: Engine, model: Model, run_id: str, full_refresh: bool) -> StepResult:
        lake = self.lake
        upstream = sorted(model.depends_on)
        inputs = hashlib.sha256(model.sql_hash.encode())
        for dep in upstream:
            inputs.update(f"{dep}={self._input(dep)[0]};".encode())
        inputs_hash = inputs.hexdigest()
        if not full_refresh and lake.catalog.exists(model.full_name):
            info = lake.catalog.info(model.full_name)
            if info.properties.get(PROP_INPUTS) == inputs_hash and info.snapshot_id is not None:
                return StepResult(
                    model.full_name,
                    "model",
                    "unchanged",
                    rows=info.rows,
                    snapshot_id=info.snapshot_id,
                    message="inputs unchanged",
                )
        engine.register(self._input(dep)[1] for dep in upstream)
        location = lake.catalog.staging_location(model.full_name, run_id)
        lake.storage.makedirs(location.rsplit("/", 1)[0])
        written = engine.materialize(model.sql, location)
        table = lake.catalog.ensure_table(model.full_name, written.schema)
        properties = {
            PROP_UPSTREAM: ",".join(upstream),
            PROP_INPUTS: inputs_hash,
            PROP_CONTENT: written.content_hash,
        }
        current = table.current_snapshot()
        if (
            current is not None
            and not full_refresh
            and table.properties.get(PROP_CONTENT) == written.content_hash
        ):
            lake.storage.delete(location)
            with table.transaction() as tx:
                tx.set_properties(properties)
            return StepResult(
                model.full_name,
                "model",
                "unchanged",
                rows=written.rows,
                snapshot_id=current.snapshot_id,
                message="result unchanged",
                engine=written.engine or engine.name,
            )
        try:
            snapshot_id = lake.catalog.replace(
                table, written.files, written.schema, properties=properties, run_id=run_id
            )
        except BaseException:
            lake.storage.delete(location)
            raise
        return StepResult(
            model.full_name,
            "model",
            "success",
            rows=written.rows,
            bytes=written.bytes,
            snapshot_id=snapshot_id,
            message=written.note,
            engine=written.engine or engine.name,
        )

    @contextmanager
    def _lock(self, run_id: str, wait_seconds: float | None) -> Iterator[None]:
        metadata = self.lake.metadata
        ttl = timedelta(seconds=self.lake.settings.run.lock_ttl_seconds)
        wait = self.lake.settings.run.lock_timeout_seconds if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + wait
        while True:
            holder = metadata.acquire_lock(RUN_LOCK, run_id, ttl)
            if holder is None:
                break
            if time.monotonic() >= deadline:
                raise LockError(
                    f"another run ({holder.holder}, pid {holder.pid} on {holder.host}, started "
                    f"{holder.acquired_at:%Y-%m-%d %H:%M:%S} UTC) is in progress on this project; "
                    "wait for it to finish or pass --wait SECONDS"
                )
            time.sleep(0.5)
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(ttl.total_seconds() / 3):
                metadata.renew_lock(RUN_LOCK, run_id, ttl)

        keeper = threading.Thread(target=renew, name="batchlake-lock", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join()
            metadata.release_lock(RUN_LOCK, run_id)


def _message(exc: BaseException) -> str:
    if isinstance(exc, BatchlakeError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _debug_trace(exc: BaseException) -> str:
    if isinstance(exc, BatchlakeError):
        return ""
    return "\n" + "".join(traceback.format_exception(exc))
