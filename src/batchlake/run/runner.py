"""Executes the DAG of a lake project: captures, then models, in dependency order.

One run at a time per project (a lock in the metadata database, renewed while the run
lives, taken over when its holder died). Every run and step is recorded. A model is
rebuilt only when its SQL or an input changed, and its new result is committed only
when it differs from the current one; a failed step marks its downstream steps
`upstream_failed` while independent steps carry on.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from batchlake.capture import Source, open_source
from batchlake.capture.ingest import ingest_entity
from batchlake.catalog import PROP_INPUTS, PROP_UPSTREAM
from batchlake.engines import Engine, Materialized, TableSource
from batchlake.errors import BatchlakeError, LockError, ModelError, NotFoundError, SourceError
from batchlake.lake import Lake
from batchlake.metadata import utcnow
from batchlake.run.results import DONE, RunResult, StepResult, StepStatus
from batchlake.run.retry import (
    StepTimeout,
    backoff,
    call_with_timeout,
    is_transient,
    is_unreachable,
)
from batchlake.transform.models import Dag, Model, Node, PythonModel, project_models
from batchlake.transform.promote import (
    Promotion,
    Staged,
    built_from,
    inputs_fingerprint,
    promote,
)

RUN_LOCK = "run"


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


class _Synchronized:
    """A reporter called from capture threads one at a time."""

    def __init__(self, inner: Reporter, lock: threading.RLock) -> None:
        self.inner = inner
        self.lock = lock

    def step_started(self, node: Node, position: int, total: int) -> None:
        with self.lock:
            self.inner.step_started(node, position, total)

    def rows_read(self, node: Node, rows: int) -> None:
        with self.lock:
            self.inner.rows_read(node, rows)

    def step_finished(self, result: StepResult) -> None:
        with self.lock:
            self.inner.step_finished(result)


def new_run_id() -> str:
    return f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


class Runner:
    """Runs selected steps of a lake project."""

    def __init__(
        self,
        lake: Lake,
        reporter: Reporter | None = None,
        *,
        stop: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.lake = lake
        self._guard = threading.RLock()  # sources, results and the reporter, across threads
        self.reporter: Reporter = _Synchronized(reporter or _Silent(), self._guard)
        self._sources: dict[str, Source] = {}
        self._inputs: dict[str, tuple[str, TableSource]] = {}
        self._unreachable: dict[str, SourceError] = {}
        self._engine: Engine | None = None
        self._broken: set[str] = set()
        self.stop = stop or threading.Event()  # set (e.g. on SIGTERM): no new step starts
        self.sleep: Callable[[float], object] = sleep or self.stop.wait  # backoff waits
        self._window: tuple[str, str] | None = None  # a backfill's cursor window
        self._gave_up: set[str] = set()  # sources whose retries ran out in this run
        self._cancel: dict[str, threading.Event] = {}  # captures running: set = stop it

    def build_dag(self, select: list[str] | None = None) -> Dag:
        """Captures of every source's entities, then the models.

        A source that cannot be reached (SourceError) does not stop the run: its entities
        known from earlier captures, and those the models read, become steps that fail with
        its error, so what depends on them is skipped and everything else carries on.
        """
        selectors = [part for text in select or [] for part in text.replace(",", " ").split()]
        # `ingest` needs no models; `raw.x.y+` does (what is built from it)
        captures_only = bool(selectors) and all(
            s.startswith("raw.") and not s.endswith("+") for s in selectors
        )
        models = {} if captures_only else project_models(self.lake.project)
        raw: list[str] = []
        self._unreachable.clear()
        for name in self.lake.settings.sources:
            if captures_only and not _selects_source(selectors, name):
                continue  # `ingest pg.x` connects to no other source
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
                # Never captured and nothing reads it yet: one step stands for the source,
                # so the run fails with the cause instead of finding nothing to do.
                raw += sorted(known | wanted) or [unlisted_step(name)]
        dag = Dag.build(models, raw)
        if models:
            from batchlake.transform.quality import add_check_dependencies

            add_check_dependencies(dag, self.lake.project.models_dir)
        return dag

    def _source(self, name: str) -> Source:
        with self._guard:
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
        resume: str | None = None,
        pipeline: str | None = None,
        run_id: str | None = None,
    ) -> RunResult:
        """Run the selected steps (all when none), or what `resume` (a run id) left undone.

        `run_id` lets a caller that must answer before the run starts (the REST API) pick it.
        """
        run_id = run_id or new_run_id()
        clock = time.perf_counter()
        self._inputs.clear()
        metadata = self.lake.metadata
        with self._lock(run_id, wait_seconds):
            metadata.abandon_stale_runs()
            resumed = self._resumable(resume) if resume else None
            metadata.start_run(run_id, command)
            result = RunResult(run_id, "running", 0.0)
            try:
                dag = self.build_dag(None if resumed else select)
                if resumed is not None:
                    old_id, wanted = resumed
                    names = dag.order({n for n in wanted if n in dag.nodes})
                else:
                    old_id, names = None, self._select(dag, select)
                metadata.annotate_run(
                    run_id, pipeline=pipeline, selection=json.dumps(names), resumed_from=old_id
                )
                self._execute(dag, names, run_id, full_refresh, result)
                failed = any(
                    s.status in ("failed", "upstream_failed", "cancelled") for s in result.steps
                )
                stopped = self.stop.is_set() and result.count("cancelled")
                result.status = "interrupted" if stopped else "failed" if failed else "success"
                first_error = next((s.message for s in result.steps if s.status == "failed"), None)
                metadata.finish_run(run_id, result.status, first_error)
            except BaseException as exc:
                result.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                metadata.finish_run(run_id, result.status, _message(exc))
                raise
            finally:
                for source in self._sources.values():
                    with contextlib.suppress(Exception):
                        source.close()
                self._sources.clear()
                result.seconds = time.perf_counter() - clock
        return result

    def _select(self, dag: Dag, select: list[str] | None) -> list[str]:
        """The selected steps; a selector that finds nothing because its source could not
        be listed fails with that cause, not with "matches nothing"."""
        try:
            return dag.select(select)
        except ModelError as exc:
            selectors = [p for text in select or [] for p in text.replace(",", " ").split()]
            raw = [s for s in selectors if s.startswith("raw.")]
            for source, error in self._unreachable.items():
                if _selects_source(raw, source):
                    raise SourceError(
                        f"--select {' '.join(raw)} finds no entity: source '{source}' "
                        f"could not be listed: {error}"
                    ) from exc
            raise

    def backfill(
        self, target: str, start: str, end: str, *, wait_seconds: float | None = None
    ) -> RunResult:
        """Re-capture the rows of incremental SQL entities whose cursor is in [start, end].

        `target` is SOURCE (its incremental entities) or SOURCE.ENTITY. The new batches are
        added like any capture (a batch equal to an earlier one is a duplicate); the stored
        cursors do not move.
        """
        source, _, entity = target.partition(".")
        settings = self.lake.settings.sources.get(source)
        if settings is None:
            known = ", ".join(self.lake.settings.sources) or "none"
            raise NotFoundError(f"no source '{source}' in batchlake.toml (sources: {known})")
        incremental = self._source(source).windowed_entities()
        if incremental is None:
            raise BatchlakeError(
                f"backfill re-captures a cursor window of a sql source; '{source}' is "
                f"{settings.type}: capture it again with 'batchlake ingest {source} --full-refresh'"
            )
        if entity and entity not in incremental:
            raise BatchlakeError(
                f"{source}.{entity} is not incremental; set mode = 'incremental' and "
                f"cursor = '<column>' under [sources.{source}.entities.{entity}]"
            )
        if not entity and not incremental:
            raise BatchlakeError(f"source '{source}' has no incremental entity to backfill")
        self._window = (start, end)
        try:
            return self.run(
                [f"raw.{source}.{e}" for e in ([entity] if entity else incremental)],
                command=f"backfill {target} [{start}, {end}]",
                wait_seconds=wait_seconds,
            )
        finally:
            self._window = None

    def _resumable(self, resume: str) -> tuple[str, list[str]]:
        """The run to resume and the steps it planned but did not finish well."""
        metadata = self.lake.metadata
        found = metadata.run(resume)
        if found is None:
            raise NotFoundError(f"no run '{resume}' to resume; list runs with 'batchlake runs'")
        if found["status"] == "running":
            raise LockError(f"run {found['run_id']} is still running; wait for it to finish")
        if not found.get("selection"):
            raise BatchlakeError(
                f"run {found['run_id']} was recorded before resuming was possible; "
                "run the steps again with 'batchlake run --select ...'"
            )
        latest: dict[str, str] = {}
        for step in metadata.steps(found["run_id"]):
            latest[step["step"]] = step["status"]
        planned: list[str] = json.loads(found["selection"])
        todo = [n for n in planned if latest.get(n) not in DONE]
        return found["run_id"], todo

    def _execute(
        self, dag: Dag, names: list[str], run_id: str, full_refresh: bool, result: RunResult
    ) -> None:
        """Captures first, in parallel across sources; then models, in dependency order.

        Captures are I/O bound and independent: one thread per source (a source's entities
        run in order on its own connection), at most `run.concurrency` at once. Models run
        one after another in the run's single engine (DuckDB parallelizes each query).
        """
        temp = self.lake.project.state_dir / "tmp" / run_id
        self._engine = None
        self._broken = set()
        self._gave_up = set()
        positions = {name: i for i, name in enumerate(names, start=1)}
        total = len(names)
        groups: dict[str, list[Node]] = {}
        later: list[Node] = []
        for name in names:
            node = dag.nodes[name]
            if node.kind == "ingest" and not node.depends_on:
                groups.setdefault(node.source, []).append(node)
            else:
                later.append(node)

        if later:  # a catalog that must not be used (another project's) stops the run first
            _ = self.lake.catalog.iceberg

        def capture(nodes: list[Node]) -> None:
            for node in nodes:
                self._step(node, positions[node.name], total, run_id, full_refresh, result, temp)

        try:
            workers = min(self.lake.settings.run.concurrency, len(groups))
            if workers <= 1:
                for nodes in groups.values():
                    capture(nodes)
            else:
                with ThreadPoolExecutor(workers, thread_name_prefix="batchlake-capture") as pool:
                    for future in [pool.submit(capture, nodes) for nodes in groups.values()]:
                        future.result()
            for node in later:
                self._step(node, positions[node.name], total, run_id, full_refresh, result, temp)
        finally:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            shutil.rmtree(temp, ignore_errors=True)

    def _step(
        self,
        node: Node,
        position: int,
        total: int,
        run_id: str,
        full_refresh: bool,
        result: RunResult,
        temp: Path,
    ) -> None:
        """One step: skipped when stopped or upstream failed; else attempted with retries."""
        name = node.name
        self.reporter.step_started(node, position, total)
        skipped = self._skipped(node)
        if skipped is not None:
            self._record(run_id, skipped)
            self._broken.add(name)
            self._finished(result, skipped)
            return
        if node.kind != "ingest" and self._engine is None:
            # One engine and the catalog for the run, opened outside any step's time.
            temp.mkdir(parents=True, exist_ok=True)
            self._engine = self.lake.engine(temp_directory=str(temp))
            _ = self.lake.catalog.iceberg
        step_id = self.lake.metadata.start_step(run_id, name, node.kind)
        clock = time.perf_counter()
        step, attempt, trace = self._attempts(node, run_id, full_refresh)
        step.seconds = time.perf_counter() - clock
        if attempt > 1:
            step.message = f"{step.message + '; ' if step.message else ''}attempt {attempt}"
        self._inputs.pop(name, None)  # its next reader plans the new version
        self.lake.metadata.finish_step(
            step_id,
            step.status,
            rows_out=step.rows,
            bytes=step.bytes,
            snapshot_id=str(step.snapshot_id) if step.snapshot_id else None,
            message=step.message,
            attempts=attempt,
            traceback=trace,
            **_counts(step),
        )
        step.attempts = attempt
        self._finished(result, step)

    def _skipped(self, node: Node) -> StepResult | None:
        """The result of a step that must not start (the run stopped, or upstream failed)."""
        if self.stop.is_set():
            return StepResult(
                node.name, node.kind, "cancelled", message="not run: the run was stopped"
            )
        failed = node.depends_on & self._broken
        if failed:
            return StepResult(
                node.name,
                node.kind,
                "upstream_failed",
                message=f"skipped: {', '.join(sorted(failed))} failed",
            )
        return None

    def _attempts(
        self, node: Node, run_id: str, full_refresh: bool
    ) -> tuple[StepResult, int, str | None]:
        """Run a step under its timeout, retrying transient errors with backoff.

        The step's result, the number of attempts, and the traceback when it failed.
        """
        settings = self.lake.settings.run
        attempt = 0
        while True:
            attempt += 1
            try:
                step = call_with_timeout(
                    lambda: self._once(node, run_id, full_refresh),
                    settings.step_timeout_seconds,
                    name=node.name,
                    on_timeout=lambda: self._interrupt(node),
                )
                return step, attempt, None
            except Exception as exc:
                retry = attempt <= settings.retries and is_transient(exc)
                if node.kind == "ingest" and node.source in self._gave_up:
                    retry = False  # an earlier entity of this source used up its retries
                if retry and not self.stop.is_set():
                    delay = backoff(
                        attempt, settings.retry_backoff_seconds, settings.retry_max_backoff_seconds
                    )
                    self.sleep(delay)
                    if node.kind == "ingest":
                        self._reset_source(node.source)
                    continue
                if node.kind == "ingest":
                    self._give_up(node, exc)
                self._broken.add(node.name)
                failed = StepResult(node.name, node.kind, "failed", message=_message(exc))
                return failed, attempt, "".join(traceback.format_exception(exc))

    def _give_up(self, node: Node, exc: Exception) -> None:
        """After a capture failed for good: what later entities of its source must know."""
        with self._guard:
            if isinstance(exc, StepTimeout):
                # Its thread may still hold the source: later entities must not share it.
                self._unreachable[node.source] = SourceError(str(exc))
                self._sources.pop(node.source, None)
            elif is_unreachable(exc):
                # Its server cannot be reached: later entities fail with this, at once,
                # instead of each waiting for the same timeout.
                self._unreachable[node.source] = SourceError(_message(exc))
            if isinstance(exc, SourceError):
                self._gave_up.add(node.source)

    def _once(self, node: Node, run_id: str, full_refresh: bool) -> StepResult:
        if node.kind == "ingest":
            return self._ingest(node, run_id, full_refresh)
        assert self._engine is not None
        assert node.model is not None
        return self._build(self._engine, node.model, run_id, full_refresh)

    def _finished(self, result: RunResult, step: StepResult) -> None:
        with self._guard:
            result.steps.append(step)
            self.reporter.step_finished(step)

    def _interrupt(self, node: Node) -> None:
        """Stop a step past its timeout: a model's DuckDB query; a capture at its next
        batch or page (and its DuckDB scan at once), so its temporary file is deleted."""
        if node.kind != "ingest":
            if self._engine is not None:
                self._engine.interrupt()
            return
        with self._guard:
            cancel = self._cancel.get(node.name)
            source = self._sources.get(node.source)
        if cancel is not None:
            cancel.set()
        if source is not None:
            source.interrupt()

    def _reset_source(self, name: str) -> None:
        """Forget a source's connection (and that it was unreachable) before a retry."""
        with self._guard:
            self._unreachable.pop(name, None)
            source = self._sources.pop(name, None)
        if source is not None:
            with contextlib.suppress(Exception):
                source.close()

    def _record(self, run_id: str, step: StepResult) -> None:
        step_id = self.lake.metadata.start_step(run_id, step.name, step.kind)
        self.lake.metadata.finish_step(step_id, step.status, message=step.message)

    def _ingest(self, node: Node, run_id: str, full_refresh: bool) -> StepResult:
        with self._guard:
            unreachable = self._unreachable.get(node.source)
        if unreachable is not None:
            raise unreachable
        if node.name == unlisted_step(node.source):  # a retry: the source answers now
            return self._ingest_listed(node, run_id, full_refresh)
        cancel = threading.Event()

        def progress(rows: int) -> None:
            if cancel.is_set():
                raise SourceError(f"{node.name}: capture stopped (past its step timeout)")
            self.reporter.rows_read(node, rows)

        with self._guard:
            self._cancel[node.name] = cancel
        try:
            outcome = ingest_entity(
                self._source(node.source),
                node.entity,
                storage=self.lake.storage,
                metadata=self.lake.metadata,
                run_id=run_id,
                on_rows=progress,
                full_refresh=full_refresh,
                window=self._window,
            )
        finally:
            with self._guard:
                self._cancel.pop(node.name, None)
        outcomes: dict[str, tuple[StepStatus, str | None]] = {
            "written": ("success", None),
            "duplicate": ("duplicate", f"same data as batch {outcome.duplicate_of}"),
            "empty": ("unchanged", "nothing new since the last capture"),
            "unchanged": ("unchanged", outcome.note or "the source reports no change"),
        }
        status, message = outcomes[outcome.status]
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

    def _ingest_listed(self, node: Node, run_id: str, full_refresh: bool) -> StepResult:
        """Capture every entity of a source that could only be listed on a retry."""
        entities = self._source(node.source).entities()
        steps = [
            self._ingest(Node(f"raw.{node.source}.{e}", "ingest"), run_id, full_refresh)
            for e in entities
        ]
        return StepResult(
            node.name,
            "ingest",
            "success" if any(s.status == "success" for s in steps) else "unchanged",
            rows=sum(s.rows or 0 for s in steps),
            bytes=sum(s.bytes or 0 for s in steps),
            message=f"listed on a retry; captured {', '.join(entities) or 'nothing'}",
            rejected=sum(s.rejected for s in steps),
        )

    def _input(self, name: str) -> tuple[str, TableSource]:
        """A table's version token and what an engine reads, planned once per run."""
        if name not in self._inputs:
            self._inputs[name] = self.lake.plan(name)
        return self._inputs[name]

    def _build(
        self, engine: Engine, model: Model | PythonModel, run_id: str, full_refresh: bool
    ) -> StepResult:
        if isinstance(model, PythonModel):
            from batchlake.transform.python_steps import run_python_model

            done = run_python_model(self.lake, engine, model, run_id, full_refresh, self._input)
        else:
            done = self._build_sql(engine, model, run_id, full_refresh)
        return StepResult(
            model.full_name,
            "model",
            done.status,
            rows=done.rows,
            bytes=done.bytes,
            snapshot_id=done.snapshot_id,
            message=done.message,
            engine=done.engine,
            counts=done.counts,
        )

    def _build_sql(
        self, engine: Engine, model: Model, run_id: str, full_refresh: bool
    ) -> Promotion:
        if model.settings.incremental or model.settings.partition_by:
            from batchlake.transform import incremental

            def gate(written: Materialized, location: str) -> Materialized:
                return self._gate(engine, model.full_name, written, run_id, location)

            return incremental.build(
                self.lake, engine, model, run_id, full_refresh, self._input, gate
            )
        lake = self.lake
        upstream = sorted(model.depends_on)
        fingerprint = inputs_fingerprint(
            model.definition_hash, {dep: self._input(dep)[0] for dep in upstream}
        )
        current = None if full_refresh else built_from(lake, [model.full_name], fingerprint)
        if current:
            return Promotion(
                model.full_name,
                "unchanged",
                current[0].rows,
                current[0].snapshot_id,
                message="inputs unchanged",
            )
        engine.register(self._input(dep)[1] for dep in upstream)
        location = lake.catalog.staging_location(model.full_name, run_id)
        lake.storage.makedirs(location.rsplit("/", 1)[0])
        written = engine.materialize(model.sql, location)
        written = self._gate(engine, model.full_name, written, run_id, location)
        staged = Staged(
            model.full_name,
            location,
            written.files,
            written.schema,
            written.rows,
            written.bytes,
            written.content_hash,
        )
        properties = {PROP_UPSTREAM: ",".join(upstream), PROP_INPUTS: fingerprint}
        done = promote(
            lake, staged, properties, full_refresh=full_refresh, run_id=run_id, partition_by=()
        )
        note = "result unchanged" if done.status == "unchanged" else done.message or written.note
        return replace(done, message=note, engine=written.engine or engine.name)

    def _gate(
        self, engine: Engine, table: str, written: Materialized, run_id: str, location: str
    ) -> Materialized:
        """The table's quality checks over its new result, before the commit; what to commit."""
        from batchlake.transform.quality import gate_before_commit

        return gate_before_commit(
            self.lake,
            engine,
            table,
            written,
            run_id=run_id,
            location=location,
            resolve=lambda name: self._input(name)[1],
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


def unlisted_step(source: str) -> str:
    """The step of a source whose entities could not be listed and are not known yet."""
    return f"raw.{source}.*"


def _selects_source(selectors: list[str], source: str) -> bool:
    """Whether any `raw.<source>.<entity>` selector (globs allowed) can match `source`."""
    for selector in selectors:
        parts = selector.strip("+").split(".", 2)
        if len(parts) < 2 or fnmatch.fnmatchcase(source, parts[1]):
            return True
    return False


def _counts(step: StepResult) -> dict[str, int]:
    """The step's rows inserted/updated/deleted, for its record (incremental models)."""
    if step.counts is None:
        return {}
    return {
        "rows_inserted": step.counts.inserted,
        "rows_updated": step.counts.updated,
        "rows_deleted": step.counts.deleted,
    }
