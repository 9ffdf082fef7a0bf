"""Incremental models: recompute only what new input touches, commit it in one snapshot.

Every incremental kind records in its table what it consumed (`batchlake.consumed`: the
last raw batch id of each raw input, the snapshot id of each Iceberg input), in the
same catalog commit as its data and in that snapshot's summary. A run compares the
inputs with that record:

- **incremental_by_key** (`unique_key`): the *scope* is the key columns that every input
  carrying a key column has. Touched scope values are read from the new raw batches
  and from the change feed of each Iceberg input since the consumed snapshot (the
  before and after images of the rows each merge recomputed, `changes.feed_since`), or,
  when a commit has none, from the files added or removed since. The model's
  SQL runs with raw inputs limited to their new batches and Iceberg inputs limited to
  the touched scope; the table's rows of the touched scope are replaced by the result
  (a tombstone row deletes its key; with `order_by` the latest row of a key wins against
  the table's). Raw inputs are read as their new batches only, so the SQL must keep one
  row per key of them, the latest batch winning (`QUALIFY row_number() OVER (PARTITION BY
  key ORDER BY _batch_id DESC) = 1`), as a full rebuild does.
- **incremental_by_time** (`time_column`): the scope is the interval (the time transform
  of `partition_by`, else a day) of `time_column`; touched intervals plus `lookback`
  earlier ones are recomputed from every input row in them and replace the table's.
- **append**: the SQL runs over the new rows of its one changed input; the result is
  appended.

An input without the scope columns is read whole; when it changed, or when anything
else cannot be known exactly (the consumed snapshot expired, the SQL or kind changed,
a key is NULL, the result's schema changed), the model is rebuilt in full and the step
says why. The same SQL therefore gives the same table built incrementally or in full.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchlake.transform.incremental.changes import FullRebuild, InputOf, read_changes
from batchlake.transform.incremental.job import Gate, Job
from batchlake.transform.promote import Promotion, built_from, inputs_fingerprint

if TYPE_CHECKING:
    from batchlake.engines import Engine
    from batchlake.lake import Lake
    from batchlake.transform.models import Model

__all__ = ["FullRebuild", "Gate", "build"]


def build(
    lake: Lake,
    engine: Engine,
    model: Model,
    run_id: str,
    full_refresh: bool,
    input_of: InputOf,
    gate: Gate,
) -> Promotion:
    """Build an incremental (or partitioned) model: skip, merge, append or rebuild."""
    upstream = sorted(model.depends_on)
    fingerprint = inputs_fingerprint(
        model.definition_hash, {dep: input_of(dep)[0] for dep in upstream}
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
    job = Job(lake, engine, model, run_id, input_of, gate, fingerprint)
    reason = None
    if full_refresh:
        reason = "--full-refresh"
    else:
        reason, job.table, job.changes = read_changes(lake, model, input_of)
    if reason is None and model.settings.incremental:
        try:
            return job.increment()
        except FullRebuild as exc:
            reason = str(exc)
    done = job.rebuild()
    if model.settings.incremental and reason:
        return Promotion(
            done.table,
            done.status,
            done.rows,
            done.snapshot_id,
            done.bytes,
            "; ".join(n for n in (done.message, f"rebuilt in full: {reason}") if n),
            done.engine,
            done.counts,
        )
    return done
