"""Reads of a table partitioned by month plan only the files that can match, and answer
exactly what a read of every file answers: `Lake.query` (`batchlake query`), the REST
rows endpoint and the Python API's `lake.table(..., filter=...)`.

Files are counted where they are handed over: the sources registered with the engine,
the table version the rows endpoint scans, the files PyIceberg plans for the Python API;
the month's files are found independently, from PyIceberg's own file metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import batchlake
from batchlake.config import ServeSettings
from batchlake.engines import Engine, TableSource
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from batchlake.serve import create_app
from batchlake.serve.routers import rows as rows_router
from tests.partitioned_lake import MONTHS, build, files_in_month
from tests.support.serve_support import ENV_KEYS, READER, auth

MARCH = "day >= '2024-03-01' AND day < '2024-04-01'"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("pruning"))


@pytest.fixture(scope="module")
def every_event(root: Path) -> list[dict[str, Any]]:
    """trusted.events read whole, by PyIceberg, without any filter."""
    table = Lake.open(root).catalog.load("trusted.events")
    return table.scan().to_arrow().to_pylist()


def in_march(row: dict[str, Any]) -> bool:
    return date(2024, 3, 1) <= row["day"] < date(2024, 4, 1)


def canon(table: pa.Table) -> list[tuple[Any, ...]]:
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return sorted(rows, key=lambda r: [(v is not None, str(v)) for v in r])


class Recording:
    """The lake's engine, remembering the sources it is handed."""

    def __init__(self, engine: Engine, seen: dict[str, list[str]]) -> None:
        self._engine = engine
        self._seen = seen

    def register(self, tables: Any) -> None:
        tables = list(tables)
        for table in tables:
            self._seen[table.name] = list(table.files)
        self._engine.register(tables)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The files each table's source held when `Lake.query` registered it."""
    seen: dict[str, list[str]] = {}
    original = Lake.engine

    def engine(self: Lake, temp_directory: str | None = None) -> Any:
        return Recording(original(self, temp_directory), seen)

    monkeypatch.setattr(Lake, "engine", engine)
    return seen


def unpruned(lake: Lake, sql: str, monkeypatch: pytest.MonkeyPatch) -> pa.Table:
    """The same query with pruning off: every table handed over whole."""
    with monkeypatch.context() as patched:
        patched.setattr("batchlake.lake.pruning.sql_row_filters", lambda sql, schemas: {})
        return lake.query_table(sql)


# -- batchlake query / Lake.query ---------------------------------------------------------------


def test_a_one_month_query_hands_the_engine_only_that_months_files(
    root: Path,
    every_event: list[dict[str, Any]],
    handed: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lake = Lake.open(root)
    sql = f"SELECT id, day, amount FROM trusted.events WHERE {MARCH}"
    answer = lake.query_table(sql)
    march = files_in_month(root, "trusted.events", 3)
    assert len(march) >= 1
    assert sorted(handed["trusted.events"]) == march
    (planned,) = lake.plan_query(sql)
    assert (planned.files_planned, planned.files_total) == (len(march), MONTHS)
    expected = [(r["id"], r["day"], r["amount"]) for r in every_event if in_march(r)]
    assert canon(answer) == sorted(expected, key=lambda r: [str(v) for v in r])
    assert canon(answer) == canon(unpruned(lake, sql, monkeypatch))
    assert answer.num_rows == len(expected) > 0


def test_a_predicate_pruning_cannot_use_reads_every_file_and_still_answers(
    root: Path, every_event: list[dict[str, Any]], handed: dict[str, list[str]]
) -> None:
    lake = Lake.open(root)
    sql = "SELECT count(*) AS n, sum(amount) AS total FROM trusted.events WHERE month(day) = 3"
    answer = lake.query_table(sql).to_pylist()[0]
    assert len(handed["trusted.events"]) == MONTHS
    march = [r for r in every_event if in_march(r)]
    assert answer == {"n": len(march), "total": sum((r["amount"] for r in march), Decimal(0))}


def test_batchlake_query_prunes_the_same_way(root: Path, handed: dict[str, list[str]]) -> None:
    from typer.testing import CliRunner

    from batchlake.cli import app

    sql = f"SELECT count(*) AS n FROM trusted.events WHERE {MARCH}"
    out = CliRunner().invoke(app, ["query", "-p", str(root), "--format", "csv", sql])
    assert out.exit_code == 0, out.output
    assert len(handed["trusted.events"]) == len(files_in_month(root, "trusted.events", 3))
    assert out.stdout.splitlines()[1] == str(
        Lake.open(root)
        .query_table("SELECT count(*) FROM trusted.events WHERE month(day) = 3")
        .column(0)[0]
        .as_py()
    )


# Queries whose pruned answer must equal the unpruned one; `prunes`: whether trusted.events
# is read from fewer files than it has.
QUERIES = [
    (f"SELECT * FROM trusted.events WHERE {MARCH}", True),
    ("SELECT * FROM trusted.events WHERE day BETWEEN '2024-02-10' AND '2024-03-05'", True),
    ("SELECT * FROM trusted.events WHERE day IN ('2024-05-06', DATE '2024-07-01')", True),
    ("SELECT * FROM trusted.events WHERE day = '2024-05-06' OR id = 3", True),
    # DuckDB writes no min/max PyIceberg reads for strings: text prunes by partition only.
    ("SELECT * FROM trusted.events WHERE day = '2024-05-06' OR kind = 'zzz'", False),
    ("SELECT * FROM trusted.events WHERE seen_at >= '2024-11-01 00:00:00'", True),
    ("SELECT * FROM trusted.events WHERE seen_at < TIMESTAMP '2024-02-01 10:00'", True),
    ("SELECT * FROM trusted.events WHERE id <= 40", True),  # no small id in some months
    ("SELECT * FROM trusted.events WHERE day <> '2024-03-05'", False),
    ("SELECT * FROM trusted.events WHERE kind = 'a' AND note IS NULL", False),
    ("SELECT * FROM trusted.events WHERE note IS NOT NULL AND amount > 500", False),
    ("SELECT * FROM trusted.events WHERE flag = true AND ratio >= 0", False),
    ("SELECT * FROM trusted.events WHERE strftime(day, '%m') = '03'", False),
    ("SELECT * FROM trusted.events WHERE day = '2030-01-01'", True),  # no file at all
    (
        "SELECT e.id, k.label FROM trusted.events e LEFT JOIN trusted.kinds k "
        "ON e.kind = k.kind WHERE k.label IS NULL AND e.day < '2024-03-01'",
        True,
    ),
    (
        "SELECT e.id, k.label FROM trusted.kinds k LEFT JOIN trusted.events e "
        f"ON e.kind = k.kind AND e.{MARCH.replace(' AND ', ' AND e.')}",
        True,
    ),
    (
        "SELECT e.id, k.label FROM trusted.events e RIGHT JOIN trusted.kinds k "
        "ON e.kind = k.kind WHERE e.day = '2024-04-08' OR e.id IS NULL",
        False,
    ),
    (
        "SELECT e.id, k.label FROM trusted.events e FULL JOIN trusted.kinds k "
        "ON e.kind = k.kind WHERE e.day >= '2024-12-01'",
        True,
    ),
    (
        "SELECT d.day, d.events FROM refined.daily d JOIN trusted.events e ON d.day = e.day "
        "WHERE d.day >= '2024-06-01' AND e.day < '2024-07-01'",
        True,
    ),
    (
        "SELECT id FROM trusted.events WHERE day < '2024-02-01' "
        "UNION ALL SELECT id FROM trusted.events WHERE day >= '2024-12-01'",
        True,
    ),
    (
        "SELECT * FROM trusted.kinds k WHERE EXISTS (SELECT 1 FROM trusted.events e "
        "WHERE e.kind = k.kind AND e.day = '2024-08-19')",
        True,
    ),
    (
        "WITH m AS (SELECT * FROM trusted.events WHERE day >= '2024-10-01') "
        "SELECT kind, count(*) FROM m WHERE id > 3 GROUP BY kind",
        True,
    ),
    ("SELECT * FROM (SELECT * FROM trusted.events) s WHERE s.day = '2024-03-05'", False),
    (
        "SELECT id, (SELECT max(day) FROM trusted.events i WHERE i.kind = o.kind "
        "AND i.day < '2024-02-01') AS first FROM trusted.events o WHERE o.day >= '2024-12-01'",
        True,
    ),
]


@pytest.mark.parametrize(("sql", "prunes"), QUERIES)
def test_pruning_never_changes_an_answer(
    root: Path, sql: str, prunes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake.open(root)
    planned = {p.name: p for p in lake.plan_query(sql)}["trusted.events"]
    assert (planned.files_planned < planned.files_total) is prunes, planned.row_filter
    assert canon(lake.query_table(sql)) == canon(unpruned(lake, sql, monkeypatch))


@pytest.mark.parametrize(
    "where",
    ["kind = 'a'", "kind IN ('b', 'c') AND note = 'note 3'", "note IS NULL", "note >= 'note 5'"],
)
def test_tables_partitioned_by_text_answer_as_unpruned_reads(
    root: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB writes no text statistics PyIceberg reads, so the partition values of text
    partitions may be missing from the metadata: reads must still be exact."""
    lake = Lake.open(root)
    sql = f"SELECT * FROM trusted.by_kind WHERE {where}"
    answer = canon(lake.query_table(sql))
    assert answer == canon(unpruned(lake, sql, monkeypatch))
    assert answer == canon(
        lake.query_table(f"SELECT id, kind, note, day FROM trusted.events WHERE {where}")
    )
    assert len(answer) > 0
    python = batchlake.open(root).table("trusted.by_kind", filter=where.replace("AND", "and"))
    assert canon(python.to_arrow()) == answer


def test_text_partitions_record_their_values_and_prune(root: Path) -> None:
    """Each file of a table partitioned by text records its partition's value (taken
    from the data: DuckDB leaves no text statistics), so a filter on it prunes."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    lake = Lake.open(root)
    table = lake.catalog.load("trusted.by_kind")
    tasks = list(table.scan().plan_files())
    assert len(tasks) > 1
    for task in tasks:
        data = pq.read_table(task.file.file_path.removeprefix("file://"))
        kinds = set(data.column("kind").to_pylist())
        notes = set(pc.utf8_slice_codeunits(data.column("note"), 0, 6).to_pylist())
        assert len(kinds) == 1 and len(notes) == 1  # one partition per file
        assert tuple(task.file.partition) == (kinds.pop(), notes.pop())
    planned = {p.name: p for p in lake.plan_query("SELECT * FROM trusted.by_kind WHERE kind = 'a'")}
    files = planned["trusted.by_kind"]
    assert files.files_planned < files.files_total


_COLUMNS = {
    "day": st.dates(date(2023, 12, 1), date(2025, 1, 31)).map(lambda d: f"'{d}'"),
    "seen_at": st.datetimes(datetime(2023, 12, 1), datetime(2025, 1, 31)).map(
        lambda t: f"TIMESTAMP '{t.replace(microsecond=0)}'"
    ),
    "id": st.integers(-5, 700).map(str),
    "amount": st.decimals(0, 1000, places=2).map(str),
    "ratio": st.sampled_from(["0", "0.25", "1.5", "4"]),
    "kind": st.sampled_from(["'a'", "'b'", "'e'"]),
}
_leaf = st.one_of(
    *[
        st.tuples(st.just(c), st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), v).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        )
        for c, v in _COLUMNS.items()
    ],
    st.tuples(st.sampled_from(list(_COLUMNS)), st.sampled_from(["IS NULL", "IS NOT NULL"])).map(
        " ".join
    ),
    st.lists(_COLUMNS["day"], min_size=1, max_size=3).map(lambda v: f"day IN ({', '.join(v)})"),
    st.tuples(_COLUMNS["day"], _COLUMNS["day"]).map(lambda v: f"day BETWEEN {v[0]} AND {v[1]}"),
)
_where = st.recursive(
    _leaf,
    lambda inner: st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=4,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=_where)
def test_random_filters_answer_as_an_unpruned_read(
    root: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake.open(root)
    sql = f"SELECT * FROM trusted.events WHERE {where}"
    assert canon(lake.query_table(sql)) == canon(unpruned(lake, sql, monkeypatch)), sql


# -- the REST API's row filters -----------------------------------------------------------------


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The files of each table version the rows endpoint scans."""
    seen: list[list[str]] = []
    original = rows_router.scan_page

    def spy(version: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(list(version.source.files))
        return original(version, *args, **kwargs)

    monkeypatch.setattr(rows_router, "scan_page", spy)
    return seen


@pytest.fixture
def client(root: Path) -> Iterator[TestClient]:
    app = create_app(root, ServeSettings(), env_keys=ENV_KEYS)
    yield TestClient(app, headers=auth(READER), client=("127.0.0.1", 50000))


def api_rows(client: TestClient, query: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/tables/trusted/events/rows?limit=10000&{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    names = [c["name"] for c in body["columns"]]
    assert body["total"] == len(body["rows"])
    return [dict(zip(names, r, strict=True)) for r in body["rows"]]


def test_the_rows_endpoint_scans_only_the_months_files(
    root: Path,
    client: TestClient,
    every_event: list[dict[str, Any]],
    scanned: list[list[str]],
) -> None:
    found = api_rows(client, "day__gte=2024-03-01&day__lt=2024-04-01&order_by=id")
    assert [sorted(files) for files in scanned] == [files_in_month(root, "trusted.events", 3)]
    expected = [r["id"] for r in sorted(every_event, key=lambda r: r["id"]) if in_march(r)]
    assert [r["id"] for r in found] == expected
    assert all(r["day"].startswith("2024-03-") for r in found)
    in_list = api_rows(client, "day__in=2024-03-05,2024-05-06&columns=id,day")
    assert len(scanned[-1]) == 2
    assert {r["day"] for r in in_list} <= {"2024-03-05", "2024-05-06"}


def test_the_rows_endpoint_answers_alike_pruned_in_memory_and_unprunable(
    client: TestClient, every_event: list[dict[str, Any]], scanned: list[list[str]]
) -> None:
    query = "seen_at__gte=2024-06-01&seen_at__lt=2024-07-01&amount__gt=100&order_by=id"
    pruned = api_rows(client, query)
    assert 0 < len(scanned[-1]) < MONTHS
    api_rows(client, "note__contains=note")  # cannot prune: the table is loaded whole
    assert len(scanned) == 1
    in_memory = api_rows(client, query)  # now answered from memory, no file scanned
    assert len(scanned) == 1
    assert pruned == in_memory
    expected = [
        r["id"]
        for r in sorted(every_event, key=lambda r: r["id"])
        if date(2024, 6, 1) <= r["seen_at"].date() < date(2024, 7, 1) and r["amount"] > 100
    ]
    assert [r["id"] for r in pruned] == expected


def test_the_rows_endpoint_keeps_its_errors_with_pruning(client: TestClient) -> None:
    bad = client.get("/api/v1/tables/trusted/events/rows?day__gte=someday")
    assert bad.status_code == 400
    assert "day" in bad.json()["error"]
    unknown = client.get("/api/v1/tables/trusted/events/rows?nope=1")
    assert unknown.status_code == 400
    assert "unknown column 'nope'" in unknown.json()["error"]


# -- the Python API -----------------------------------------------------------------------------


def test_lake_table_with_a_filter_plans_only_the_months_files(
    root: Path, every_event: list[dict[str, Any]]
) -> None:
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    lake = batchlake.open(root)
    march = lake.table("trusted.events", filter=MARCH.replace("AND", "and"))
    assert sorted(march.files()) == files_in_month(root, "trusted.events", 3)
    assert len(lake.table("trusted.events").files()) == MONTHS
    expected = sorted(r["id"] for r in every_event if in_march(r))
    assert sorted(march.to_arrow().column("id").to_pylist()) == expected
    expression = And(GreaterThanOrEqual("day", "2024-03-01"), LessThan("day", "2024-04-01"))
    same = lake.table("trusted.events", filter=expression)
    assert sorted(same.files()) == sorted(march.files())
    assert sorted(same.to_arrow().column("id").to_pylist()) == expected
    assert sorted(same.to_pandas()["id"]) == expected


def test_lake_table_with_a_filter_pruning_cannot_use_reads_every_file(
    root: Path, every_event: list[dict[str, Any]]
) -> None:
    kind_a = batchlake.open(root).table("trusted.events", filter="kind = 'a'")
    assert len(kind_a.files()) == MONTHS
    expected = sorted(r["id"] for r in every_event if r["kind"] == "a")
    assert sorted(kind_a.to_arrow().column("id").to_pylist()) == expected


def test_lake_table_filter_errors_name_the_fix(root: Path) -> None:
    from batchlake.errors import QueryError

    lake = batchlake.open(root)
    with pytest.raises(QueryError, match=r"does not parse .* e\.g\."):
        lake.table("trusted.events", filter="day >== 3")
    with pytest.raises(QueryError, match="its columns: id, day"):
        lake.table("trusted.events", filter="nope = 1")
    with pytest.raises(QueryError, match="raw entity"):
        lake.table("raw.shop.events", filter="id = 1")


def test_an_empty_plan_still_has_the_tables_columns(root: Path) -> None:
    lake = Lake.open(root)
    sql = "SELECT * FROM trusted.events WHERE day = '2030-01-01'"
    (planned,) = lake.plan_query(sql)
    assert planned.files_planned == 0
    answer = lake.query_table(sql)
    assert answer.num_rows == 0
    assert answer.column_names == [
        f.name for f in lake.catalog.load("trusted.events").schema().fields
    ]
    assert isinstance(planned.source, TableSource)


def test_time_travel_prunes_the_snapshot_it_reads(tmp_path: Path, scanned: list[list[str]]) -> None:
    """After a run that adds March events, a filtered read `as_of` the first snapshot plans
    that snapshot's March files and answers its rows, in the API and in Python."""
    import sqlite3

    from tests.partitioned_lake import event_rows

    root = build(tmp_path)
    lake = Lake.open(root)
    first = lake.catalog.load("trusted.events").current_snapshot()
    assert first is not None
    before = lake.query_table(f"SELECT id FROM trusted.events WHERE {MARCH} ORDER BY id")
    con = sqlite3.connect(tmp_path / "shop.sqlite")
    late = [(i, "2024-03-15", *row[1:]) for i, *row in event_rows(601, 5)]
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", late)
    con.commit()
    con.close()
    assert Runner(Lake.open(root)).run().ok
    old_march = files_in_month(root, "trusted.events", 3, first.snapshot_id)
    new_march = files_in_month(root, "trusted.events", 3)
    assert old_march != new_march

    handle = batchlake.open(root)
    then = handle.table(
        "trusted.events", as_of=first.snapshot_id, filter=MARCH.replace("AND", "and")
    )
    assert sorted(then.files()) == old_march
    assert sorted(then.to_arrow().column("id").to_pylist()) == before.column("id").to_pylist()
    now = handle.table("trusted.events", filter=MARCH.replace("AND", "and"))
    assert sorted(now.files()) == new_march
    assert now.to_arrow().num_rows == before.num_rows + 5

    app = create_app(root, ServeSettings(), env_keys=ENV_KEYS)
    client = TestClient(app, headers=auth(READER), client=("127.0.0.1", 50000))
    query = f"as_of={first.snapshot_id}&day__gte=2024-03-01&day__lt=2024-04-01&order_by=id"
    found = api_rows(client, query)
    assert [sorted(files) for files in scanned] == [old_march]
    assert [r["id"] for r in found] == before.column("id").to_pylist()


def test_files_missing_a_column_are_not_read_alone(tmp_path: Path) -> None:
    """A snapshot whose files differ in columns (one written before a column was added):
    reading only the old file would lose the column, so every file is read."""
    import pyarrow.parquet as pq

    from batchlake.catalog.partitioning import parse_partition

    (tmp_path / "batchlake.toml").write_text('name = "mixed"\n', encoding="utf-8")
    lake = Lake.open(tmp_path)
    old = pa.table({"day": [date(2024, 1, 5)], "x": pa.array([1], pa.int32())})
    new = old.append_column("y", pa.array(["b"])).slice(0, 0)
    new = pa.concat_tables(
        [new, pa.table({"day": [date(2024, 2, 5)], "x": pa.array([2], pa.int32()), "y": ["b"]})]
    )
    month = [parse_partition("month(day)")]
    table = lake.catalog.ensure_table("refined.mixed", old.schema, month)
    location = lake.catalog.staging_location("refined.mixed", "test")
    Path(location.removeprefix("file://")).mkdir(parents=True)
    paths = [f"{location}/old.parquet", f"{location}/new.parquet"]
    pq.write_table(old, paths[0].removeprefix("file://"))
    pq.write_table(new, paths[1].removeprefix("file://"))
    lake.catalog.commit(
        table,
        add=paths,
        remove=None,
        schema=new.schema,
        properties={},
        run_id="test",
        partition_by=month,
    )
    sql = "SELECT day, x, y FROM refined.mixed WHERE day < '2024-02-01'"
    (planned,) = lake.plan_query(sql)
    assert planned.files_planned == 2 and planned.row_filter is None
    assert lake.query_table(sql).to_pylist() == [{"day": date(2024, 1, 5), "x": 1, "y": None}]
    both = lake.plan_query("SELECT * FROM refined.mixed WHERE day >= '2024-02-01'")[0]
    assert both.files_planned == 1  # the new file has every column: it is read alone


def test_files_whose_partition_values_were_not_recorded_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's partition value may be NULL only when its column is NULL in every row. A
    NULL recorded for a file that holds values (a writer that left no statistics to take
    it from) would prune matching rows away: such a snapshot is read whole."""
    import pyarrow.parquet as pq
    from pyiceberg.typedef import Record

    from batchlake.catalog.partitioning import data_files, parse_partition

    (tmp_path / "batchlake.toml").write_text('name = "tagged"\n', encoding="utf-8")
    lake = Lake.open(tmp_path)
    parts = [
        pa.table({"kind": pa.array(k, pa.string()), "n": pa.array(n, pa.int32())})
        for k, n in ((["a", "a"], [1, 2]), (["b"], [3]), ([None], [4]))
    ]
    by_kind = [parse_partition("kind")]

    def make(name: str, recorded: bool) -> None:
        table = lake.catalog.ensure_table(name, parts[0].schema, by_kind)
        location = lake.catalog.staging_location(name, "test")
        Path(location.removeprefix("file://")).mkdir(parents=True)
        paths = [f"{location}/{i}.parquet" for i in range(len(parts))]
        for part, path in zip(parts, paths, strict=True):
            pq.write_table(part, path.removeprefix("file://"))
        if recorded:
            lake.catalog.commit(
                table,
                add=paths,
                remove=None,
                schema=parts[0].schema,
                properties={},
                run_id="test",
                partition_by=by_kind,
            )
            return
        lake.catalog.commit(  # an empty commit sets the name mapping and properties
            table, add=[], remove=[], schema=parts[0].schema, properties={}, run_id="test"
        )
        table = table.refresh()
        unrecorded = [
            _with_partition(f, Record(None), table.spec().spec_id)
            for f in data_files(table.io, table.metadata, paths)
        ]
        with table.transaction() as tx, tx.update_snapshot().fast_append() as append:
            for data_file in unrecorded:
                append.append_data_file(data_file)

    make("refined.recorded", recorded=True)
    make("refined.unrecorded", recorded=False)
    for name, files_read in (("refined.recorded", 1), ("refined.unrecorded", 3)):
        sql = f"SELECT n FROM {name} WHERE kind = 'a' ORDER BY n"
        (planned,) = lake.plan_query(sql)
        assert planned.files_planned == files_read, name
        assert lake.query_table(sql).column("n").to_pylist() == [1, 2]
        assert canon(unpruned(lake, sql, monkeypatch)) == canon(lake.query_table(sql))
        handle = batchlake.open(tmp_path).table(name, filter="kind = 'a'")
        assert len(handle.files()) == files_read
        assert sorted(handle.to_arrow().column("n").to_pylist()) == [1, 2]
    nulls = lake.plan_query("SELECT n FROM refined.recorded WHERE kind IS NULL")[0]
    assert nulls.files_planned == 1  # a true NULL partition prunes like any other value


def _with_partition(data_file: Any, partition: Any, spec_id: int) -> Any:
    """A copy of a data file with another partition tuple."""
    from pyiceberg.manifest import DATA_FILE_TYPE, DataFile

    fields = {f.name: getattr(data_file, f.name) for f in DATA_FILE_TYPE[2].fields}
    copy = DataFile.from_args(**{**fields, "partition": partition})
    copy.spec_id = spec_id
    return copy
