"""MongoSource against mongomock, an in-process fake of pymongo's `MongoClient` (there is
no MongoDB server on the test machines). The fake sits at the client boundary, injected
through the source's `client_factory`; the source's own logic runs unchanged. The
dead-server test uses the real pymongo client against a closed port."""

from __future__ import annotations

import json
import math
import random
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mongomock
import pytest
from bson import (
    Binary,
    CodecOptions,
    Decimal128,
    Int64,
    ObjectId,
    Regex,
    Timestamp,
    decode,
    encode,
    json_util,
)

from batchlake.capture import EntityState, open_source
from batchlake.capture.mongo import EJSON, MongoSource
from batchlake.config import MongoSourceSettings, Project, ProjectSettings, load_project
from batchlake.errors import ConfigError, SourceError

T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def server() -> mongomock.MongoClient:
    """The fake server; every client the source makes shares its store."""
    return mongomock.MongoClient()


def make_source(
    server: mongomock.MongoClient, collections: dict[str, Any], **settings: Any
) -> MongoSource:
    def factory(url: str, **options: Any) -> mongomock.MongoClient:
        return mongomock.MongoClient(url, _store=server._store, **options)

    validated = MongoSourceSettings.model_validate(
        {
            "type": "mongo",
            "url": "mongodb://app:hunter2@db.example:27017/?authSource=admin",
            "database": "shop",
            "collections": collections,
            **settings,
        }
    )
    return MongoSource(
        "app", validated, Project(Path("."), ProjectSettings()), client_factory=factory
    )


def capture(
    source: MongoSource, entity: str, cursor: str | None = None
) -> tuple[list[list[dict[str, Any]]], str | None]:
    """All pages of one capture and the cursor it leaves."""
    result = source.read(entity, EntityState(cursor))
    pages = list(result.records)
    return pages, result.cursor


def rows(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page]


def typed(value: Any) -> Any:
    """A value with the type of every leaf spelled out (`Int64(5) == 5` would hide it)."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, datetime):
        return ("datetime", value, value.utcoffset())
    if isinstance(value, Binary):
        return ("Binary", bytes(value), value.subtype)
    return (type(value).__name__, value)


def test_every_type_round_trips(server: mongomock.MongoClient) -> None:
    document = {
        "_id": ObjectId(),
        "at": T0,
        "before_1970": datetime(1960, 5, 17, 8, 30, 0, 999000, tzinfo=UTC),
        "price": Decimal128("1234.5600"),
        "small_long": Int64(5),
        "big_long": Int64(2**40),
        "int": 5,
        "negative": -7,
        "double": 2.0,
        "fraction": 0.1,
        "bytes": Binary(b"\x00\xffraw", 0),
        "uuid": Binary(uuid.UUID("12345678-1234-5678-1234-567812345678").bytes, 4),
        "custom_binary": Binary(b"abc", 0x80),
        "nested": {"level": {"deeper": [Int64(1), {"x": Decimal128("-0.001")}]}},
        "array": [1, "two", None, 3.5, [T0, ObjectId()]],
        "null": None,
        "flag": True,
        "text": 'héllo \u2603 "quoted"',
        "pattern": Regex("^ab", "i"),
        "stamp": Timestamp(1_700_000_000, 7),
    }
    server.shop.things.insert_one(document)
    # What the real driver hands back: BSON-encoded and decoded (dates to the millisecond).
    expected = decode(encode(document), CodecOptions(tz_aware=True))
    assert expected["at"] == T0.replace(microsecond=123000)

    (record,) = rows(capture(make_source(server, {"things": {}}), "things")[0])
    back = json_util.loads(json.dumps(record), json_options=EJSON)
    assert typed(back) == typed(expected)
    # Canonical Extended JSON: every value carries its BSON type.
    assert record["_id"] == {"$oid": str(document["_id"])}
    assert record["at"] == {"$date": {"$numberLong": str(int(T0.timestamp() * 1000))}}
    assert record["price"] == {"$numberDecimal": "1234.5600"}
    assert record["small_long"] == {"$numberLong": "5"}
    assert record["int"] == {"$numberInt": "5"}
    assert record["double"] == {"$numberDouble": "2.0"}
    assert record["uuid"]["$binary"]["subType"] == "04"


def test_special_doubles_survive(server: mongomock.MongoClient) -> None:
    server.shop.things.insert_one({"_id": 1, "nan": math.nan, "inf": -math.inf})
    (record,) = rows(capture(make_source(server, {"things": {}}), "things")[0])
    back = json_util.loads(json.dumps(record), json_options=EJSON)
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf


def test_filter_and_projection_are_applied(server: mongomock.MongoClient) -> None:
    server.shop.logs.insert_many(
        [
            {"level": level, "at": T0 + timedelta(days=day), "payload": "x" * 10, "n": day}
            for day in range(6)
            for level in ("info", "error")
        ]
    )
    source = make_source(
        server,
        {
            "errors": {
                "collection": "logs",
                # Typed values in a filter are written as Extended JSON.
                "filter": {"level": "error", "at": {"$gte": {"$date": "2024-03-03T00:00:00Z"}}},
                "projection": {"payload": 0},
            }
        },
    )
    got = rows(capture(source, "errors")[0])
    assert [r["n"] for r in got] == [{"$numberInt": str(day)} for day in (2, 3, 4, 5)]
    assert all(r["level"] == "error" and "payload" not in r for r in got)
    assert source.describe("errors")["reads"] == "shop.logs"
    assert "error" in source.describe("errors")["filter"]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The filters the source sends, recorded at the (fake) driver's `find`."""
    calls: list[dict[str, Any]] = []
    original = mongomock.collection.Collection.find

    def find(self: Any, spec: Any = None, *args: Any, **kwargs: Any) -> Any:
        calls.append(spec)
        return original(self, spec, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.Collection, "find", find)
    return calls


def test_incremental_by_date(server: mongomock.MongoClient, sent: list[dict[str, Any]]) -> None:
    sessions = server.shop.sessions
    sessions.insert_many(
        [{"user": i, "updated_at": T0 + timedelta(minutes=i)} for i in (3, 1, 4, 0, 2)]
    )
    source = make_source(
        server, {"sessions": {"mode": "incremental", "cursor": "updated_at", "batch_size": 2}}
    )
    first, cursor = capture(source, "sessions")
    assert [r["user"] for r in rows(first)] == [{"$numberInt": str(i)} for i in range(5)]
    assert sent[-1] == {}
    assert cursor is not None
    newest = json_util.loads(cursor, json_options=EJSON)
    assert isinstance(newest, datetime)
    assert newest == (T0 + timedelta(minutes=4)).replace(microsecond=123000)

    sessions.insert_one({"user": 5, "updated_at": T0 + timedelta(hours=1)})
    sessions.update_one({"user": 0}, {"$set": {"updated_at": T0 + timedelta(hours=2)}})
    second, cursor2 = capture(source, "sessions", cursor)
    assert sent[-1] == {"updated_at": {"$gt": newest}}
    assert [r["user"] for r in rows(second)] == [{"$numberInt": "5"}, {"$numberInt": "0"}]
    assert json_util.loads(cursor2 or "", json_options=EJSON) == (T0 + timedelta(hours=2)).replace(
        microsecond=123000
    )

    third, cursor3 = capture(source, "sessions", cursor2)
    assert third == [] and cursor3 == cursor2  # nothing new: the old cursor stays


def test_incremental_by_object_id_with_a_filter(
    server: mongomock.MongoClient, sent: list[dict[str, Any]]
) -> None:
    events = server.shop.events
    events.insert_many([{"kind": "click" if i % 2 else "view", "i": i} for i in range(6)])
    source = make_source(
        server,
        {"clicks": {"collection": "events", "mode": "incremental", "cursor": "_id",
                    "filter": {"kind": "click"}}},
    )  # fmt: skip
    first, cursor = capture(source, "clicks")
    assert [r["i"]["$numberInt"] for r in rows(first)] == ["1", "3", "5"]
    newest = json_util.loads(cursor or "", json_options=EJSON)
    assert isinstance(newest, ObjectId) and newest == events.find_one({"i": 5})["_id"]

    events.insert_many([{"kind": "click", "i": 6}, {"kind": "view", "i": 7}])
    second, _ = capture(source, "clicks", cursor)
    assert sent[-1] == {"kind": "click", "_id": {"$gt": newest}}
    assert [r["i"]["$numberInt"] for r in rows(second)] == ["6"]


def test_cursor_field_also_in_the_filter(server: mongomock.MongoClient) -> None:
    server.shop.logs.insert_many([{"n": i, "at": T0 + timedelta(days=i)} for i in range(5)])
    source = make_source(
        server,
        {"logs": {"mode": "incremental", "cursor": "at",
                  "filter": {"at": {"$lt": {"$date": "2024-03-05T00:00:00Z"}}}}},
    )  # fmt: skip
    first, cursor = capture(source, "logs")
    assert [r["n"]["$numberInt"] for r in rows(first)] == ["0", "1", "2", "3"]
    server.shop.logs.insert_one({"n": 9, "at": T0 + timedelta(days=1, hours=1)})
    assert rows(capture(source, "logs", cursor)[0]) == []  # an older date is not new


def test_order_is_deterministic_and_pages_are_bounded(server: mongomock.MongoClient) -> None:
    ids = sorted(ObjectId() for _ in range(10))
    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    server.shop.logs.insert_many([{"_id": oid, "v": n} for n, oid in enumerate(shuffled)])
    source = make_source(server, {"logs": {"batch_size": 3}})
    pages, _ = capture(source, "logs")
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    assert [r["_id"]["$oid"] for r in rows(pages)] == [str(oid) for oid in ids]
    again, _ = capture(source, "logs")
    assert json.dumps(again) == json.dumps(pages)


def test_a_dead_server_names_the_url_without_its_password(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = MongoSourceSettings.model_validate(
        {
            "type": "mongo",
            "url": f"mongodb://app:hunter2@127.0.0.1:{port}/?authSource=admin",
            "database": "shop",
            "timeout_seconds": 0.2,
            "collections": {"logs": {}},
        }
    )
    source = MongoSource("app", settings, Project(tmp_path, ProjectSettings()))  # real pymongo
    with pytest.raises(SourceError) as caught:
        source.read("logs", EntityState())
    message = str(caught.value)
    assert message.startswith("source 'app': cannot connect to ")
    assert f"mongodb://app:***@127.0.0.1:{port}/" in message
    assert "sources.app.url" in message and "hunter2" not in message
    source.close()


def test_configuration_errors_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "batchlake.toml").write_text(
        '[sources.app]\ntype = "mongo"\nurl = "mongodb://localhost"\ndatabase = "shop"\n'
        '[sources.app.collections.logs]\nmode = "incremental"\ncursor = "at"\n'
        "projection = { message = 1 }\n"
    )
    with pytest.raises(ConfigError, match=r"sources\.app\.collections\.logs.*cursor field 'at'"):
        load_project(tmp_path)
    (tmp_path / "batchlake.toml").write_text(
        '[sources.app]\ntype = "mongo"\nurl = "localhost:27017"\ndatabase = "shop"\n'
    )
    with pytest.raises(ConfigError, match=r"sources\.app\.url.*not a MongoDB URL"):
        load_project(tmp_path)


def test_registered_as_mongo_and_unknown_entities_fail(tmp_path: Path) -> None:
    (tmp_path / "batchlake.toml").write_text(
        '[sources.app]\ntype = "mongo"\nurl = "mongodb://localhost"\ndatabase = "shop"\n'
        "[sources.app.collections.logs]\n[sources.app.collections.audit]\n"
        'collection = "AuditTrail"\nprimary_key = ["event_id"]\n'
    )
    source = open_source(load_project(tmp_path), "app")
    assert isinstance(source, MongoSource)
    assert source.entities() == ["logs", "audit"]
    assert source.describe("audit") == {
        "reads": "shop.AuditTrail",
        "mode": "full",
        "cursor": "",
        "primary_key": "event_id",
        "filter": "",
    }
    with pytest.raises(SourceError, match=r"no collection entity 'nope'.*logs, audit"):
        source.read("nope", EntityState())


def test_a_cursor_that_is_not_extended_json_says_what_to_do(
    server: mongomock.MongoClient,
) -> None:
    source = make_source(server, {"logs": {"mode": "incremental", "cursor": "at"}})
    with pytest.raises(SourceError, match=r"not Extended JSON.*--full-refresh"):
        source.read("logs", EntityState("2024-01-01 00:00:00"))
