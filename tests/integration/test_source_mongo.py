"""A MongoDB application database through the real pipeline: capture to raw, rerun,
incremental capture, trusted models over the raw Extended JSON.

There is no MongoDB server here: the database is mongomock (an in-process fake of
pymongo's client), injected through `batchlake.capture.mongo.CLIENT_FACTORY`. The CLI
runs in a subprocess, which cannot see the fake, so the runner is driven in-process with
the Python API (`Runner(Lake.open(dir)).run()`), exactly as the CLI drives it.
"""

from __future__ import annotations

import gzip
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import mongomock
import pytest
from bson import Binary, Decimal128, Int64, ObjectId, json_util

from batchlake.capture import mongo
from batchlake.lake import Lake
from batchlake.run.runner import Runner, RunResult

START = datetime(2024, 5, 1, tzinfo=UTC)
PROJECT = """\
name = "app_lake"

[sources.app]
type = "mongo"
url = "mongodb://app:${MONGO_PASSWORD:-not-a-secret}@mongo.internal:27017/?authSource=admin"
database = "app"

[sources.app.collections.logs]
batch_size = 400

# Events are never updated: captured by _id, each batch holds only new documents.
[sources.app.collections.events]
mode = "incremental"
cursor = "_id"

[sources.app.collections.sessions]
mode = "incremental"
cursor = "updated_at"
batch_size = 250
"""
# The query of the module docstring of batchlake.capture.mongo, run here for real.
EVENTS_MODEL = """\
-- Events with typed columns, read from the raw canonical Extended JSON.
SELECT
    _id."$oid" AS event_id,
    epoch_ms(CAST(occurred_at."$date"."$numberLong" AS BIGINT)) AS occurred_at,
    CAST(amount."$numberDecimal" AS DECIMAL(18, 2)) AS amount,
    CAST(coalesce(quantity."$numberInt", quantity."$numberLong") AS BIGINT) AS quantity,
    kind
FROM raw.app.events
"""
SESSIONS_MODEL = """\
-- Sessions, one row per session: the latest captured version wins.
SELECT
    _id."$oid" AS session_id,
    epoch_ms(CAST(updated_at."$date"."$numberLong" AS BIGINT)) AS updated_at,
    CAST(pages."$numberInt" AS INTEGER) AS pages
FROM raw.app.sessions
QUALIFY row_number() OVER (PARTITION BY _id."$oid" ORDER BY _batch_id DESC) = 1
"""


def object_id(moment: datetime, serial: int) -> ObjectId:
    """An ObjectId as a server makes it: creation time first, then a unique tail."""
    return ObjectId(int(moment.timestamp()).to_bytes(4, "big") + serial.to_bytes(8, "big"))


def events(rng: random.Random, first: int, count: int) -> Iterator[dict[str, Any]]:
    kinds = ["page_view", "add_to_cart", "purchase", "refund", "search"]
    for n in range(first, first + count):
        at = START + timedelta(seconds=n * 41, microseconds=rng.randrange(1_000_000))
        doc: dict[str, Any] = {
            "_id": object_id(at, n),
            "kind": rng.choice(kinds),
            "occurred_at": at,
            "amount": Decimal128(Decimal(rng.randrange(-20_000, 500_000)).scaleb(-2)),
            # Mostly small ints (int32); some counters are int64 in the application.
            "quantity": Int64(rng.randrange(2**31, 2**40)) if n % 9 == 0 else rng.randrange(50),
            "user": {"id": rng.randrange(5_000), "country": rng.choice(["FR", "BR", "JP"])},
            "items": [
                {"sku": f"SKU-{rng.randrange(999):03}", "price": Decimal128(f"{k + 1}.99")}
                for k in range(rng.randrange(4))
            ],
        }
        if n % 5 == 0:
            doc["trace"] = Binary(uuid.UUID(int=rng.getrandbits(128)).bytes, 4)
        if n % 7 == 0:
            doc["referrer"] = None
        yield doc


def logs(rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        doc: dict[str, Any] = {
            "at": START + timedelta(milliseconds=n * 1_337),
            "level": rng.choice(["debug", "info", "warning", "error"]),
            "message": rng.choice(["démarrage", "request served", "payment → ok", "ошибка"]),
            "latency_ms": round(rng.uniform(0.1, 900), 3),
            "context": {"path": f"/api/{rng.randrange(40)}", "status": rng.choice([200, 404])},
        }
        if doc["level"] == "error":
            doc["error"] = {"type": "Timeout", "stack": [f"frame {k}" for k in range(3)]}
        yield doc


def sessions(
    rng: random.Random, first: int, count: int, written: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Sessions; `updated_at` is when the application wrote them (`written`, if given)."""
    for n in range(first, first + count):
        started = START + timedelta(minutes=n * 3)
        updated = written or started + timedelta(seconds=rng.randrange(3_600))
        yield {
            "_id": object_id(started, n),
            "user_id": rng.randrange(5_000),
            "device": {"os": rng.choice(["ios", "android", "web"]), "version": "1.2"},
            "started_at": started,
            "updated_at": updated + timedelta(milliseconds=n % 1_000),
            "pages": rng.randrange(1, 30),
            "duration_s": rng.choice([None, round(rng.uniform(1, 600), 2)]),
        }


@dataclass
class Story:
    """What happened to the lake, and what was put into the database along the way."""

    project: Path
    db: Any
    runs: list[RunResult] = field(default_factory=list)
    counts_after_first: dict[str, int] = field(default_factory=dict)
    raw_after_first: dict[str, int] = field(default_factory=dict)
    new_events: int = 0
    changed_sessions: int = 0


def raw_count(project: Path, entity: str) -> int:
    return int(Lake.open(project).query_table(f"SELECT count(*) AS n FROM raw.app.{entity}")[0][0])


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    project = tmp_path_factory.mktemp("mongo") / "lake"
    (project / "models" / "trusted").mkdir(parents=True)
    (project / "batchlake.toml").write_text(PROJECT)
    (project / "models" / "trusted" / "events.sql").write_text(EVENTS_MODEL)
    (project / "models" / "trusted" / "sessions.sql").write_text(SESSIONS_MODEL)

    server = mongomock.MongoClient(tz_aware=True)  # dates come back as aware UTC
    db = server.app
    rng = random.Random(2024)
    db.events.insert_many(list(events(rng, 0, 2_000)))
    db.logs.insert_many(list(logs(rng, 1_500)))
    db.sessions.insert_many(list(sessions(rng, 0, 700)))

    def factory(url: str, **options: Any) -> mongomock.MongoClient:
        return mongomock.MongoClient(url, _store=server._store, **options)

    told = Story(project, db)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mongo, "CLIENT_FACTORY", factory)
        told.runs.append(Runner(Lake.open(project)).run())
        told.counts_after_first = {n: db[n].count_documents({}) for n in ("logs", "events")}
        told.raw_after_first = {n: raw_count(project, n) for n in ("logs", "events", "sessions")}
        told.runs.append(Runner(Lake.open(project)).run())  # nothing changed

        db.events.insert_many(list(events(rng, 2_000, 150)))
        # Written after the first capture: later than every updated_at captured so far.
        later = START + timedelta(days=30)
        touched = db.sessions.update_many(
            {"pages": {"$lt": 4}}, {"$set": {"updated_at": later, "pages": 99}}
        ).modified_count
        db.sessions.insert_many(list(sessions(rng, 700, 60, later)))
        told.new_events, told.changed_sessions = 150, touched + 60
        told.runs.append(Runner(Lake.open(project)).run())
    yield told


def statuses(run: RunResult) -> dict[str, str]:
    return {step.name: step.status for step in run.steps}


def test_first_run_captures_every_document(story: Story) -> None:
    assert story.runs[0].ok, [s.message for s in story.runs[0].steps]
    assert story.raw_after_first == {**story.counts_after_first, "sessions": 700}
    assert story.counts_after_first == {"logs": 1_500, "events": 2_000}


def test_raw_events_give_the_documents_back(story: Story) -> None:
    table = Lake.open(story.project).query_table(
        'SELECT _id."$oid" AS id, amount."$numberDecimal" AS amount, '
        'user."id"."$numberInt" AS user_id, trace."$binary"."subType" AS trace_type '
        "FROM raw.app.events"
    )
    got = {row["id"]: row for row in table.to_pylist()}
    inserted = list(story.db.events.find())
    assert len(got) == len(inserted) == 2_150
    for doc in inserted:
        row = got[str(doc["_id"])]
        assert Decimal(row["amount"]) == doc["amount"].to_decimal()
        assert row["amount"] == str(doc["amount"])  # the digits as stored, e.g. "12.30"
        assert int(row["user_id"]) == doc["user"]["id"]
        assert row["trace_type"] == ("04" if "trace" in doc else None)


def test_raw_batch_files_are_lossless_extended_json(story: Story) -> None:
    (batch,) = Lake.open(story.project).metadata.batches("app", "logs")
    assert batch.path is not None and batch.path.endswith(".jsonl.gz")
    with gzip.open(batch.path, "rt", encoding="utf-8") as lines:
        records = [json_util.loads(line, json_options=mongo.EJSON) for line in lines]
    # In _id order, each line decodes to the document as the database holds it.
    assert records == list(story.db.logs.find(sort=[("_id", 1)]))


def test_a_rerun_on_unchanged_data_adds_no_batch(story: Story) -> None:
    second = statuses(story.runs[1])
    assert story.runs[1].ok
    assert second["raw.app.logs"] == "duplicate"  # same bytes as the first batch
    assert second["raw.app.events"] == second["raw.app.sessions"] == "unchanged"
    assert second["trusted.events"] == "unchanged"
    metadata = Lake.open(story.project).metadata
    assert len(metadata.batches("app", "logs")) == 1
    assert len(metadata.batches("app", "logs", status="duplicate")) == 2
    assert raw_count(story.project, "logs") == 1_500


def test_incremental_collections_capture_only_new_documents(story: Story) -> None:
    third = {step.name: step for step in story.runs[2].steps}
    assert story.runs[2].ok
    assert third["raw.app.events"].status == "success"
    assert third["raw.app.events"].rows == story.new_events
    assert third["raw.app.sessions"].rows == story.changed_sessions > 60
    assert third["raw.app.logs"].status == "duplicate"
    assert raw_count(story.project, "events") == 2_150
    assert raw_count(story.project, "sessions") == 700 + story.changed_sessions
    metadata = Lake.open(story.project).metadata
    cursor, _ = metadata.entity_state("app", "events")
    newest = json_util.loads(cursor or "", json_options=mongo.EJSON)
    assert isinstance(newest, ObjectId)
    assert newest == max(d["_id"] for d in story.db.events.find())


def test_trusted_events_have_typed_values(story: Story) -> None:
    table = Lake.open(story.project).query_table("SELECT * FROM trusted.events")
    assert [str(t) for t in table.schema.types] == [
        "string",
        "timestamp[us]",
        "decimal128(18, 2)",
        "int64",
        "string",
    ]
    got = {row["event_id"]: row for row in table.to_pylist()}
    expected = {
        str(doc["_id"]): {
            "event_id": str(doc["_id"]),
            # BSON keeps milliseconds; DuckDB's epoch_ms gives UTC without a zone.
            "occurred_at": doc["occurred_at"].replace(tzinfo=None),
            "amount": doc["amount"].to_decimal(),
            "quantity": int(doc["quantity"]),
            "kind": doc["kind"],
        }
        for doc in story.db.events.find()
    }
    assert got == expected
    assert any(row["quantity"] >= 2**31 for row in got.values())  # the int64 ones too


def test_trusted_sessions_keep_the_latest_version(story: Story) -> None:
    table = Lake.open(story.project).query_table("SELECT * FROM trusted.sessions")
    got = {row["session_id"]: (row["updated_at"], row["pages"]) for row in table.to_pylist()}
    expected = {
        str(doc["_id"]): (doc["updated_at"].replace(tzinfo=None), doc["pages"])
        for doc in story.db.sessions.find()
    }
    assert got == expected and len(got) == 760


def test_the_docstring_shows_the_tested_query() -> None:
    def words(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    query = "\n".join(line for line in EVENTS_MODEL.splitlines() if not line.startswith("--"))
    assert words(query) in words(mongo.__doc__ or "")
