"""A local stand-in for the Fake Store API, replaying recorded answers: for running this
example without the internet (or without hitting the public API), and for its tests.

    python serve.py [--port 8700] [--token SECRET] [--datasets DIR]

It serves `/products`, `/users` and `/carts` from DIR/fakestore/*.json (the responses of
https://fakestoreapi.com recorded in the shared datasets; DIR defaults to
$BATCHLAKE_DATASETS, else ../shared/datasets beside the repository; when the files are not
there it stops with one line saying so). Like the real API,
`limit` caps an answer and `startdate` keeps the carts dated on or after it. Unlike it,
`page` is honoured too, as by most APIs that page, so that the example's paginator pages.
With --token, requests need `Authorization: Bearer SECRET` (STORE_API_AUTH=bearer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
DATASETS_ENV = "BATCHLAKE_DATASETS"
ENDPOINTS = ("products", "users", "carts")


class StoreServer(ThreadingHTTPServer):
    """The API over `data` (endpoint → records), which callers may change while it runs."""

    def __init__(
        self, data: dict[str, list[dict[str, Any]]], *, port: int = 0, token: str | None = None
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.data = data
        self.token = token

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StoreServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        token = self.server.token
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            return self._reply(401, {"error": "missing or wrong bearer token"})
        records = self.server.data.get(parts.path.strip("/"))
        if records is None:
            return self._reply(404, {"error": f"no endpoint {parts.path}"})
        if "startdate" in query:  # ISO timestamps of one format compare as text
            records = [r for r in records if r["date"] >= query["startdate"]]
        limit = int(query.get("limit") or 0) or max(len(records), 1)
        page = int(query.get("page") or 1)
        self._reply(200, records[(page - 1) * limit : page * limit])

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def load(datasets: Path) -> dict[str, list[dict[str, Any]]]:
    folder = datasets / "fakestore"
    return {name: json.loads((folder / f"{name}.json").read_text("utf-8")) for name in ENDPOINTS}


def find_datasets(option: Path | None) -> Path:
    """The datasets folder: `--datasets`, else $BATCHLAKE_DATASETS, else shared/datasets beside
    the repository. Exits with one line naming the option and the variable when the recorded
    answers are not in it."""
    folder, where = option, "--datasets"
    if folder is None and os.environ.get(DATASETS_ENV):
        folder, where = Path(os.environ[DATASETS_ENV]), DATASETS_ENV
    if folder is None:
        folder, where = DATASETS, "the default beside the repository"
    missing = [n for n in ENDPOINTS if not (folder / "fakestore" / f"{n}.json").is_file()]
    if missing:
        sys.exit(
            f"serve.py: no fakestore/{missing[0]}.json under {folder} ({where}); pass "
            f"--datasets DIR or set {DATASETS_ENV}=DIR, DIR being the shared datasets folder"
        )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--token", help="require this bearer token")
    parser.add_argument(
        "--datasets",
        type=Path,
        help=f"the shared datasets folder (default: ${DATASETS_ENV}, else {DATASETS})",
    )
    args = parser.parse_args()
    data = load(find_datasets(args.datasets))
    server = StoreServer(data, port=args.port, token=args.token)
    print(f"Fake Store replay on {server.url} (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
