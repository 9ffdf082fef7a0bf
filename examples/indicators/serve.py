"""A local stand-in for this example's two web sources, replaying the shared datasets: for
running it without the internet, and for its tests.

    python serve.py [--port 8701] [--datasets DIR]

- `GET /data/countries-aggregated.csv`: DIR/covid19/countries-aggregated.csv, with an
  ETag; a request carrying it back in `If-None-Match` gets 304 Not Modified.
- `GET /v2/country/all/indicator/SP.POP.TOTL?format=json&date=2019:2024&per_page=N&page=P`:
  DIR/worldbank/population.csv in the World Bank API's JSON shape, a two-element list
  `[{"page", "pages", "per_page", "total", ...}, [records]]`, records by economy with the
  latest year first; a page past the last one has `null` for records, as the API's.

The datasets have no ISO2 codes: `country.id` carries the ISO3 code, as
`countryiso3code` does. DIR defaults to $BATCHLAKE_DATASETS, else ../shared/datasets
beside the repository; when the files are not there it stops with one line saying so.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
DATASETS_ENV = "BATCHLAKE_DATASETS"
NEEDED = ("covid19/countries-aggregated.csv", "worldbank/population.csv")
COVID_PATH = "/data/countries-aggregated.csv"
POPULATION_PATH = "/v2/country/all/indicator/SP.POP.TOTL"


def worldbank_records(population_csv: str) -> list[dict[str, Any]]:
    """The rows of population.csv as World Bank API records (SP.POP.TOTL)."""
    rows = list(csv.DictReader(population_csv.splitlines()))
    rows.sort(key=lambda r: (r["Country Name"], -int(r["Year"])))
    return [
        {
            "indicator": {"id": "SP.POP.TOTL", "value": "Population, total"},
            "country": {"id": r["Country Code"], "value": r["Country Name"]},
            "countryiso3code": r["Country Code"],
            "date": r["Year"],
            "value": int(r["Value"]),
            "unit": "",
            "obs_status": "",
            "decimal": 0,
        }
        for r in rows
    ]


class IndicatorsServer(ThreadingHTTPServer):
    """Serves the CSV bytes and the population records (callers may edit them)."""

    def __init__(self, covid: bytes, population: list[dict[str, Any]], *, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.covid = covid
        self.etag = f'"{hashlib.sha256(covid).hexdigest()[:16]}"'
        self.population = population

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: IndicatorsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if parts.path == COVID_PATH:
            if self.headers.get("If-None-Match") == self.server.etag:
                return self._reply(304, b"", "text/csv")
            return self._reply(200, self.server.covid, "text/csv")
        if parts.path != POPULATION_PATH or query.get("format") != "json":
            return self._reply(404, b"not found", "text/plain")
        first, _, last = query.get("date", "1960:2100").partition(":")
        chosen = [
            r for r in self.server.population if int(first) <= int(r["date"]) <= int(last or first)
        ]
        size, page = int(query.get("per_page") or 50), int(query.get("page") or 1)
        meta: dict[str, Any] = {"page": page, "pages": -(-len(chosen) // size), "per_page": size}
        meta |= {"total": len(chosen), "sourceid": "2", "lastupdated": "2025-07-01"}
        records = chosen[(page - 1) * size : page * size] or None
        self._reply(200, json.dumps([meta, records]).encode(), "application/json")

    def _reply(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if kind == "text/csv":
            self.send_header("ETag", self.server.etag)
        self.end_headers()
        self.wfile.write(body)


def find_datasets(option: Path | None) -> Path:
    """The datasets folder: `--datasets`, else $BATCHLAKE_DATASETS, else shared/datasets beside
    the repository. Exits with one line naming the option and the variable when the two
    files are not in it."""
    folder, where = option, "--datasets"
    if folder is None and os.environ.get(DATASETS_ENV):
        folder, where = Path(os.environ[DATASETS_ENV]), DATASETS_ENV
    if folder is None:
        folder, where = DATASETS, "the default beside the repository"
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing:
        sys.exit(
            f"serve.py: no {missing[0]} under {folder} ({where}); pass "
            f"--datasets DIR or set {DATASETS_ENV}=DIR, DIR being the shared datasets folder"
        )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument(
        "--datasets",
        type=Path,
        help=f"the shared datasets folder (default: ${DATASETS_ENV}, else {DATASETS})",
    )
    args = parser.parse_args()
    datasets = find_datasets(args.datasets)
    covid = (datasets / "covid19" / "countries-aggregated.csv").read_bytes()
    population = worldbank_records((datasets / "worldbank" / "population.csv").read_text("utf-8"))
    server = IndicatorsServer(covid, population, port=args.port)
    print(f"COVID-19 CSV:   {server.url}{COVID_PATH}", flush=True)
    print(f"World Bank API: {server.url}/v2   (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
