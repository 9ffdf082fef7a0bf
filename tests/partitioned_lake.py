"""A small lake whose tables are partitioned by month, for pruning and layout tests.

The source is a SQLite file of `events` spread over `MONTHS` months of 2024 and a
`kinds` lookup. Models:

- `trusted.events`: incremental_by_key on `id`, partitioned by `month(day)` (reads raw);
- `refined.daily`: incremental_by_time on `day`, partitioned by `month(day)` (reads
  trusted.events, so its watermark is a snapshot id);
- `trusted.kinds`: full, unpartitioned (a lookup to join);
- `trusted.by_kind`: full, partitioned by text columns (`kind`, `truncate(6, note)`).
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

from batchlake.lake import Lake
from batchlake.run.runner import Runner

MONTHS = 12
MODELS = {
    "trusted.events": (
        """
SELECT CAST(id AS INTEGER) AS id, CAST(day AS DATE) AS day,
       CAST(seen_at AS TIMESTAMP) AS seen_at, CAST(amount AS DECIMAL(10, 2)) AS amount,
       CAST(ratio AS DOUBLE) AS ratio, kind, CAST(flag AS BOOLEAN) AS flag, note
FROM raw.shop.events
QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch_id DESC) = 1
""",
        'kind = "incremental_by_key"\nunique_key = ["id"]\npartition_by = ["month(day)"]\n',
    ),
    "refined.daily": (
        """
SELECT day, count(*) AS events, CAST(sum(amount) AS DECIMAL(18, 2)) AS amount
FROM trusted.events
GROUP BY day
""",
        'kind = "incremental_by_time"\ntime_column = "day"\npartition_by = ["month(day)"]\n',
    ),
    "trusted.kinds": (
        "SELECT kind, CAST(label AS VARCHAR) AS label FROM raw.shop.kinds",
        "",
    ),
    "trusted.by_kind": (
        "SELECT id, kind, note, day FROM trusted.events",
        'partition_by = ["kind", "truncate(6, note)"]\n',
    ),
}
KINDS = ["a", "b", "c", "d"]


def event_rows(first_id: int, count: int, months: int = MONTHS) -> list[tuple[object, ...]]:
    """Rows spread evenly over the months: every row's fields vary, some are NULL."""
    rows = []
    for n in range(count):
        i = first_id + n
        day = date(2024, 1, 1) + timedelta(days=(i * 7) % (months * 30))
        day = min(day, date(2024, months, 28))
        note = None if i % 5 == 0 else f"note {i % 13}"
        rows.append(
            (
                i,
                day.isoformat(),
                f"{day.isoformat()} {i % 24:02d}:{i % 60:02d}:00",
                f"{(i * 37) % 1000}.{i % 100:02d}",
                (i % 17) / 4,
                KINDS[i % len(KINDS)],
                i % 2,
                note,
            )
        )
    return rows


def make_source(path: Path, rows: int = 600) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE events (id INTEGER PRIMARY KEY, day TEXT NOT NULL, seen_at TEXT NOT NULL,
                             amount TEXT NOT NULL, ratio REAL, kind TEXT, flag INTEGER,
                             note TEXT);
        CREATE TABLE kinds (kind TEXT PRIMARY KEY, label TEXT);
        INSERT INTO kinds VALUES ('a', 'alpha'), ('b', 'beta'), ('c', 'gamma');
        """
    )
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", event_rows(1, rows))
    con.commit()
    con.close()


def make_project(root: Path, source: Path) -> Path:
    root.mkdir(parents=True)
    (root / "batchlake.toml").write_text(
        f'name = "shop"\n\n[sources.shop]\ntype = "sql"\nurl = "sqlite:///{source}"\n'
        'tables = "*"\n\n[engine]\nmemory_limit = "1GB"\nthreads = 2\n',
        encoding="utf-8",
    )
    for name, (sql, kind) in MODELS.items():
        zone, table = name.split(".")
        folder = root / "models" / zone
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{table}.sql").write_text(sql.strip() + "\n", encoding="utf-8")
        if kind:
            (folder / f"{table}.toml").write_text(kind, encoding="utf-8")
    return root


def build(base: Path, rows: int = 600) -> Path:
    """The source, the project, and one run that builds every table."""
    make_source(base / "shop.sqlite", rows)
    root = make_project(base / "lake", base / "shop.sqlite")
    result = Runner(Lake.open(root)).run()
    assert result.ok, [(s.name, s.message) for s in result.steps if s.status == "failed"]
    return root


def files_in_month(root: Path, table: str, month: int, snapshot_id: int | None = None) -> list[str]:
    """The data files PyIceberg's own metadata puts in one month of 2024 (independently
    of batchlake's planning): the `day_month` partition value is months since 1970."""
    iceberg = Lake.open(root).catalog.load(table)
    files = iceberg.inspect.data_files(snapshot_id).to_pylist()
    wanted = (2024 - 1970) * 12 + month - 1
    return sorted(f["file_path"] for f in files if f["partition"]["day_month"] == wanted)
