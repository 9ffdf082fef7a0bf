"""The files source end to end: a real HTTP server in a thread serving the COVID-19
dataset (with ETag, Last-Modified and 304s), a gzip copy, a local glob and a malformed
CSV with planted bad lines, captured by `batchlake run` in a subprocess."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import dataset
from tests.support.cli import batchlake, query_json

COLUMNS = {"COLUMNS": "200"}  # keep rich from wrapping the run summary lines

# The malformed file: its first 1,000 data rows, with these physical lines replaced.
PLANTED = {
    11: ("2020-01-31,Albania,0,0", "expected 5 fields, found 4"),
    101: ("2020-04-10,Algeria,12x,0,0", "column 'Confirmed': '12x' is not a valid BIGINT"),
    501: ("2020-02-31,Angola,3,0,0", "column 'Date': '2020-02-31' is not a valid DATE"),
    901: ("2020-03-01,Argentina,1,0,0,surplus", "expected 5 fields, found 6"),
}


@dataclass
class Origin:
    """A static file server that answers conditional GETs, and what it was asked."""

    folder: Path
    log: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def requests_for(self, name: str) -> list[tuple[int, dict[str, str]]]:
        return [(status, headers) for path, status, headers in self.log if path == f"/{name}"]


def _handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = origin.folder / self.path.lstrip("/")
            headers = dict(self.headers.items())
            if not path.is_file():
                origin.log.append((self.path, 404, headers))
                self.send_error(404)
                return
            body = path.read_bytes()
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            mtime = int(path.stat().st_mtime)
            since = self.headers.get("If-Modified-Since")
            fresh = self.headers.get("If-None-Match") == etag or (
                "If-None-Match" not in self.headers
                and since is not None
                and parsedate_to_datetime(since).timestamp() >= mtime
            )
            origin.log.append((self.path, 304 if fresh else 200, headers))
            self.send_response(304 if fresh else 200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(mtime, usegmt=True))
            if fresh:
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    source = dataset("covid19/countries-aggregated.csv")
    folder = tmp_path_factory.mktemp("www")
    shutil.copy(source, folder / "countries-aggregated.csv")
    (folder / "countries-aggregated.csv.gz").write_bytes(gzip.compress(source.read_bytes()))
    lines = source.read_text(encoding="utf-8").splitlines()[:1001]
    for number, (text, _) in PLANTED.items():
        lines[number - 1] = text
    (folder / "malformed.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    served = Origin(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    server.daemon_threads = True
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()


def count_rows(path: Path) -> int:
    """Data rows as Python's csv module reads them: the independent count."""
    with path.open(newline="", encoding="utf-8") as stream:
        return sum(1 for _ in csv.DictReader(stream))


@pytest.fixture(scope="module")
def project(origin: Origin, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("covid") / "lake"
    (root / "models" / "trusted").mkdir(parents=True)
    (root / "drops").mkdir()
    lines = (origin.folder / "countries-aggregated.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    middle = len(rows) // 2
    (root / "drops" / "part-1.csv").write_text("\n".join([header, *rows[:middle]]) + "\n")
    (root / "drops" / "part-2.csv").write_text("\n".join([header, *rows[middle:]]) + "\n")
    (root / "batchlake.toml").write_text(
        f"""name = "covid"

[sources.covid]
type = "files"
backoff_seconds = 0.1

[sources.covid.entities.countries]
path = "{origin.url}/countries-aggregated.csv"
primary_key = ["Country", "Date"]

[sources.covid.entities.countries_gz]
path = "{origin.url}/countries-aggregated.csv.gz"

[sources.covid.entities.countries_parts]
path = "drops/part-*.csv"

[sources.covid.entities.malformed]
path = "{origin.url}/malformed.csv"
columns = {{ Date = "DATE", Confirmed = "BIGINT", Recovered = "BIGINT", Deaths = "BIGINT" }}
""",
        encoding="utf-8",
    )
    (root / "models" / "trusted" / "covid_daily.sql").write_text(
        'SELECT "Country" AS country, CAST("Date" AS DATE) AS day, "Confirmed" AS confirmed\n'
        "FROM raw.covid.countries\n"
    )
    return root


def steps_of_last_run(root: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(root / ".batchlake" / "metadata.sqlite") as db:
        (run_id,) = db.execute(
            "SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        rows = db.execute(
            "SELECT step, status, message FROM step_runs WHERE run_id = ?", [run_id]
        ).fetchall()
    return {step: (status, message) for step, status, message in rows}


def query(root: Path, sql: str) -> list[dict[str, Any]]:
    """A query over the lake, in this process (a `batchlake query` costs a second each)."""
    from batchlake.lake import Lake

    rows: list[dict[str, Any]] = Lake.open(root).query_table(sql).to_pylist()
    return rows


def raw_counts(root: Path, *entities: str) -> list[int]:
    """Rows of raw.covid.<entity> for each entity, in one query."""
    counts = ", ".join(f"(SELECT count(*) FROM raw.covid.{e}) AS {e}" for e in entities)
    row = query(root, f"SELECT {counts}")[0]
    return [int(row[e]) for e in entities]


def test_capture_conditional_rerun_and_change(origin: Origin, project: Path) -> None:
    expected = count_rows(origin.folder / "countries-aggregated.csv")
    assert expected > 100_000

    # 1. First run: everything is captured, the bad lines are set aside.
    batchlake("run", "-p", str(project), env=COLUMNS)
    steps = steps_of_last_run(project)
    assert steps["raw.covid.malformed"] == ("success", "4 bad row(s) quarantined")
    assert {s for s, (status, _) in steps.items() if status == "success"} >= {
        "raw.covid.countries",
        "raw.covid.countries_gz",
        "raw.covid.countries_parts",
        "raw.covid.malformed",
        "trusted.covid_daily",
    }
    assert raw_counts(project, "countries", "countries_gz", "countries_parts", "malformed") == [
        expected,
        expected,
        expected,
        1000 - len(PLANTED),
    ]
    daily = query_json(  # through the command line once, as users query
        project,
        "SELECT count(*) AS n, max(day) AS last, sum(confirmed) AS total FROM trusted.covid_daily",
    )[0]
    with (origin.folder / "countries-aggregated.csv").open(newline="") as stream:
        records = list(csv.DictReader(stream))
    assert daily["n"] == expected
    assert str(daily["last"]) == max(r["Date"] for r in records)
    assert int(daily["total"]) == sum(int(r["Confirmed"]) for r in records)

    # The quarantine file holds exactly the planted lines, with their reasons and text.
    files = list((project / "lake/raw/covid/malformed/_quarantine").rglob("*.jsonl"))
    assert len(files) == 1
    quarantined = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [(q["line"], q["reason"], q["raw"]) for q in quarantined] == [
        (line, reason, text) for line, (text, reason) in sorted(PLANTED.items())
    ]
    with sqlite3.connect(project / ".batchlake" / "metadata.sqlite") as db:
        recorded = db.execute(
            "SELECT rejected, quarantine_path FROM batches WHERE entity = 'malformed'"
        ).fetchall()
    assert recorded == [(len(PLANTED), str(files[0]))]

    # 2. Nothing changed: conditional GETs answered 304, the glob by size and mtime.
    before = len(origin.log)
    batchlake("run", "-p", str(project), env=COLUMNS)
    steps = steps_of_last_run(project)
    for entity in ("countries", "countries_gz", "countries_parts", "malformed"):
        assert steps[f"raw.covid.{entity}"][0] == "unchanged", steps
    assert steps["raw.covid.countries"][1] == "not modified (HTTP 304)"
    asked = [(path, status, h) for path, status, h in origin.log[before:]]
    assert {path for path, _, _ in asked} == {
        "/countries-aggregated.csv",
        "/countries-aggregated.csv.gz",
        "/malformed.csv",
    }
    for _, status, headers in asked:
        assert status == 304 and headers.get("If-None-Match", "").startswith('"')
    assert raw_counts(project, "countries") == [expected]

    # 3. The served file changes: only it is captured again.
    with (origin.folder / "countries-aggregated.csv").open("a") as stream:
        stream.write("2022-04-17,Atlantis,7,0,0\n")
    batchlake("run", "-p", str(project), env=COLUMNS)
    steps = steps_of_last_run(project)
    assert steps["raw.covid.countries"][0] == "success"
    assert steps["raw.covid.countries_gz"][0] == "unchanged"
    assert origin.requests_for("countries-aggregated.csv")[-1][0] == 200
    assert raw_counts(project, "countries") == [2 * expected + 1]
    atlantis = query(
        project, "SELECT confirmed FROM trusted.covid_daily WHERE country = 'Atlantis'"
    )
    assert atlantis == [{"confirmed": 7}]


def test_run_output_mentions_quarantined_rows(tmp_path: Path) -> None:
    (tmp_path / "batchlake.toml").write_text(
        '[sources.drop]\ntype = "files"\n[sources.drop.entities.scores]\npath = "scores.csv"\n'
        'columns = { score = "INTEGER" }\n'
    )
    (tmp_path / "scores.csv").write_text("name,score\nana,1\nbo,two\ncy,3,4\n")
    result = batchlake("run", "-p", str(tmp_path), env=COLUMNS)
    assert steps_of_last_run(tmp_path)["raw.drop.scores"][1] == "2 bad row(s) quarantined"
    assert "2 bad row(s) quarantined" in " ".join(result.stderr.split())
