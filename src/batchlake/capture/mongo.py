"""MongoDB collections, captured as documents in canonical Extended JSON.

Each configured collection is an entity (`raw.<source>.<entity>`). Its documents are
read with `find(filter, projection)`, sorted (by `_id`, or by the cursor field then `_id`
when incremental), and handed to ingest in pages of `batch_size` documents, so memory
holds one page at a time. The fixed order makes the capture of an unchanged collection
byte-identical, which ingest records as a duplicate instead of a new batch.

Why canonical Extended JSON. A document is BSON, richer than JSON; `bson.json_util`
writes it as Extended JSON in one of two modes:

- *relaxed* writes numbers as plain JSON numbers and recent dates as ISO strings. It
  reads better, but is lossy: an `Int64` that fits in 32 bits comes back as an int32, and
  a date before 1970 is written as `{"$date": {"$numberLong": ...}}` while later ones are
  `{"$date": "…Z"}`, so one field has two shapes.
- *canonical* tags every value with its BSON type: `{"$oid": "…"}`,
  `{"$date": {"$numberLong": "<ms since epoch, UTC>"}}`, `{"$numberDecimal": "12.30"}`,
  `{"$numberLong": "5"}` vs `{"$numberInt": "5"}`, `{"$numberDouble": "1.5"}`,
  `{"$binary": {"base64": …, "subType": "04"}}`. Every type survives
  `json_util.loads(json.dumps(record), json_options=EJSON)` (dates to the millisecond
  BSON keeps, as aware UTC), and each field has one shape whatever its value.

So the raw zone keeps canonical Extended JSON, and trusted models decide the types. In
DuckDB (which reads the raw JSON Lines with `read_json`) every tagged value is a struct
whose one field is a string; a trusted model reads them like this (this very query is
run by tests/integration/test_source_mongo.py)::

    SELECT
        _id."$oid" AS event_id,
        epoch_ms(CAST(occurred_at."$date"."$numberLong" AS BIGINT)) AS occurred_at,
        CAST(amount."$numberDecimal" AS DECIMAL(18, 2)) AS amount,
        CAST(coalesce(quantity."$numberInt", quantity."$numberLong") AS BIGINT) AS quantity,
        kind
    FROM raw.app.events

`epoch_ms` gives a UTC `TIMESTAMP`. A struct field that no captured document has, say
`$numberLong` when every value fits in 32 bits, is not there to name: coalesce only over
the tags the data has. Events are insert-only and captured by `_id`, so each document is
in one batch; where documents change (a cursor on `updated_at`, or full captures), keep
the latest version with
`QUALIFY row_number() OVER (PARTITION BY _id."$oid" ORDER BY _batch_id DESC) = 1`.

Incremental capture by a field (`updated_at`, or `_id` for insert-only collections)
queries `{<cursor>: {"$gt": <last value>}}` together with the configured filter. The
new cursor is the largest value captured, the last one in MongoDB's own order, stored
as canonical Extended JSON (`{"$date": …}`, `{"$oid": …}`), so a date is compared as a
date and an ObjectId as an ObjectId on the next capture. As with any `$gt` cursor,
documents written later with a value at or below the cursor are not seen: use a field
the application sets at write time, and index it.

Tests run against mongomock (an in-process fake of pymongo's client; there is no MongoDB
server in CI), injected through `CLIENT_FACTORY` or the `client_factory` argument.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

import pymongo
from bson import json_util
from bson.json_util import JSONMode, JSONOptions
from pymongo.errors import PyMongoError

from batchlake.capture import (
    Capture,
    DiffSpec,
    EntityState,
    SourceBase,
    redact_url,
    scrub_url_secret,
)
from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    from pymongo.collection import Collection
    from pymongo.database import Database

    from batchlake.config import MongoCollectionSettings, MongoSourceSettings, Project

Document = dict[str, Any]
# (url, **pymongo client options) -> a client; tests swap in mongomock's MongoClient.
ClientFactory = Callable[..., "pymongo.MongoClient[Document]"]
CLIENT_FACTORY: ClientFactory = pymongo.MongoClient

# Canonical Extended JSON; dates decode as aware UTC datetimes (see the module docstring).
EJSON = JSONOptions(json_mode=JSONMode.CANONICAL, tz_aware=True, tzinfo=UTC)


class MongoSource(SourceBase):
    """A MongoDB database; each configured collection is an entity."""

    def __init__(
        self,
        name: str,
        settings: MongoSourceSettings,
        project: Project,
        *,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.url = settings.url
        self.work_dir = project.state_dir / "tmp"
        self._client_factory = client_factory
        self._client: pymongo.MongoClient[Document] | None = None
        self._database: Database[Document] | None = None

    @property
    def database(self) -> Database[Document]:
        """The database, connected on first use (a dead server fails here, clearly)."""
        if self._database is None:
            factory = self._client_factory or CLIENT_FACTORY
            timeout_ms = int(self.settings.timeout_seconds * 1000)
            client = None
            try:
                client = factory(
                    self.url,
                    serverSelectionTimeoutMS=timeout_ms,
                    connectTimeoutMS=timeout_ms,
                    tz_aware=True,
                    appname="batchlake",
                )
                client.admin.command("ping")
            except PyMongoError as exc:
                if client is not None:
                    client.close()
                raise SourceError(
                    f"source '{self.name}': cannot connect to {redact_url(self.url)}: "
                    f"{_detail(exc, self.url)}; check sources.{self.name}.url "
                    "and that the server is up"
                ) from None
            self._client = client
            self._database = client[self.settings.database]
        return self._database

    def entities(self) -> list[str]:
        return list(self.settings.collections)

    def _options(self, entity: str) -> MongoCollectionSettings:
        options = self.settings.collections.get(entity)
        if options is None:
            raise SourceError(
                f"source '{self.name}' has no collection entity '{entity}' "
                f"(it has: {', '.join(self.settings.collections) or 'none'}); "
                f"add [sources.{self.name}.collections.{entity}]"
            )
        return options

    def describe(self, entity: str) -> dict[str, str]:
        options = self._options(entity)
        return {
            "reads": f"{self.settings.database}.{options.collection or entity}",
            "mode": options.mode,
            "cursor": options.cursor or "",
            "primary_key": ",".join(options.primary_key) or "_id",
            "filter": json.dumps(options.filter, default=str) if options.filter else "",
        }

    def read(self, entity: str, state: EntityState) -> Capture:
        options = self._options(entity)
        query = self._filter(entity, options)
        cursor_field = options.cursor if options.mode == "incremental" else None
        sort = [("_id", pymongo.ASCENDING)]
        if cursor_field is not None:
            if cursor_field != "_id":
                sort.insert(0, (cursor_field, pymongo.ASCENDING))
            if state.cursor is not None:
                since = {"$gt": self._decode_cursor(entity, state.cursor)}
                if cursor_field in query:
                    query = {"$and": [query, {cursor_field: since}]}
                else:
                    query = {**query, cursor_field: since}
        collection = self.database[options.collection or entity]
        capture = Capture(format="json", cursor=state.cursor)
        capture.records = self._pages(
            entity, collection, query, options, sort, cursor_field, capture
        )
        if options.mode == "diff":
            capture.diff = DiffSpec(
                tuple(options.primary_key) or options.default_key,
                f"sources.{self.name}.collections.{entity}.primary_key",
                self.work_dir,
            )
        return capture

    def _pages(
        self,
        entity: str,
        collection: Collection[Document],
        query: Document,
        options: MongoCollectionSettings,
        sort: list[tuple[str, int]],
        cursor_field: str | None,
        capture: Capture,
    ) -> Iterator[list[Document]]:
        """Pages of `batch_size` documents as canonical Extended JSON dicts."""
        found = collection.find(
            query,
            options.projection,
            sort=sort,
            batch_size=options.batch_size,
            allow_disk_use=True,  # a sort on an unindexed cursor field may exceed 100 MB
        )
        last = None
        try:
            while True:
                page: list[Document] = []
                try:
                    for document in found:
                        page.append(document)
                        if len(page) >= options.batch_size:
                            break
                except PyMongoError as exc:
                    raise SourceError(
                        f"source '{self.name}': reading {entity} "
                        f"({collection.full_name}) failed: {_detail(exc, self.url)}; "
                        f"check sources.{self.name}.collections.{entity}"
                    ) from None
                if not page:
                    break
                if cursor_field is not None:
                    # Sorted by the cursor: the last value present is the largest.
                    for document in page:
                        value = _field(document, cursor_field)
                        if value is not None:
                            last = value
                records: list[Document] = json.loads(json_util.dumps(page, json_options=EJSON))
                yield records
        finally:
            found.close()
        if last is not None:
            capture.cursor = json_util.dumps(last, json_options=EJSON)

    def _filter(self, entity: str, options: MongoCollectionSettings) -> Document:
        """The configured filter with Extended JSON (and TOML dates) as BSON values."""
        try:
            decoded: Document = json_util.loads(
                json_util.dumps(options.filter, json_options=EJSON), json_options=EJSON
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"sources.{self.name}.collections.{entity}.filter: {exc}; write typed values "
                'as Extended JSON, e.g. { "$date" = "2024-01-01T00:00:00Z" }'
            ) from None
        return decoded

    def _decode_cursor(self, entity: str, text: str) -> Any:
        try:
            return json_util.loads(text, json_options=EJSON)
        except (TypeError, ValueError):
            raise SourceError(
                f"source '{self.name}': the stored cursor of {entity} ({text!r}) is not "
                "Extended JSON; capture it again with 'batchlake run --full-refresh'"
            ) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self._database = None


def _field(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a document, or None when it is missing."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _detail(exc: Exception, url: str) -> str:
    """The useful first part of a driver error, with the URL's password scrubbed."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for marker in (", Timeout:", ", Topology Description:"):
        text = text.split(marker, 1)[0]
    return scrub_url_secret(text, url)
