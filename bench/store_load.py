"""On-demand load test of the Chinook store: shoppers checking out at once, then shopping.

    python bench/store_load.py [--databases sqlite,postgresql] [--shoppers 100,200]
                               [--seconds 30] [--workers 1] [--invoices 2000]
                               [--postgres postgresql://postgres@127.0.0.1:5432]
                               [--mariadb mysql://root@127.0.0.1:3306]
                               [--workdir /tmp/chinook-store-bench]
                               [--output bench/results/store_load.json] [--smoke]

A generated Chinook store (`batchlake.demo.generator`, `--invoices`) is used as a fresh
copy for every run: the SQLite file itself (the default store), or copied into the
PostgreSQL / MariaDB database `store_chinook_bench` (dropped and re-created). Then
`chinook-store serve` runs it with `--workers` uvicorn processes on a free port, and for
each number of `--shoppers` (httpx async clients, one cookie jar each):

1. **Burst**: every shopper fills a cart (two tracks), then all check out at the same
   moment. Each checkout must be answered 201, or 503 with a Retry-After header (the
   store at its stated capacity); anything else is an error. Reported: served, refused,
   errors, checkout latency (p50, p99, max) and the time until the last answer.
2. **Sustained** (`--seconds` > 0): the shoppers loop for that long over a catalog page
   (HTML), an API search, a page of artists, an album, two additions to the cart, the
   cart and a checkout. Per endpoint: requests, requests/s, p50/p99 latency, refusals
   (503 with Retry-After, checkouts only) and errors.

After each run, with plain SQL: the new invoices equal the checkouts answered 201, every
invoice's Total equals the sum of UnitPrice × Quantity of its lines, and no new invoice is
without lines. Exits 1 on any error or inconsistency. `--smoke` runs 20 shoppers on SQLite
for 3 s on a small store, in seconds. Results: `--output` (JSON) and a `.md` beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench import _report

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"POST /api/cart": 201, "POST /api/checkout": 201}
DATABASE = "store_chinook_bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _generated(args: argparse.Namespace) -> Path:
    """The generated store (cached in the work folder)."""
    from batchlake.demo.generator import generate

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"chinook-{args.invoices}.sqlite"
    if not source.exists():
        generate(source, invoices=args.invoices, seed=42)
    return source


def prepare_database(kind: str, args: argparse.Namespace) -> str:
    """A fresh copy of the generated store on `kind`; its URL."""
    from chinook_store.db import make_engine
    from chinook_store.load import copy_database

    source = _generated(args)
    if kind == "sqlite":
        target = Path(args.workdir) / "store.sqlite"
        for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE}")
        url = f"{args.postgres}/{DATABASE}"
    else:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
        conn.close()
        url = f"{args.mariadb}/{DATABASE}"
    source_engine, target_engine = make_engine(f"sqlite:///{source}"), make_engine(url)
    copy_database(source_engine, target_engine)
    source_engine.dispose()
    target_engine.dispose()
    return url


def sql(url: str, query: str) -> list[tuple[Any, ...]]:
    """Rows of `query` (identifiers quoted "Like" this) through the bare DB-API driver."""
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return [tuple(r) for r in conn.execute(query).fetchall()]
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as pg:
            return [tuple(r) for r in pg.execute(query).fetchall()]  # type: ignore[arg-type]
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=DATABASE)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
            cursor.execute(query)
            return list(cursor.fetchall())
    finally:
        conn.close()


def version(url: str) -> str:
    if url.startswith("sqlite:///"):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    if url.startswith("postgresql://"):
        return str(sql(url, "SHOW server_version")[0][0]).join(("PostgreSQL ", ""))
    return f"MariaDB {sql(url, 'SELECT version()')[0][0]}"


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "CHINOOK_STORE_SECRET": secrets.token_urlsafe(32)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "chinook_store", "serve", "--db", url, "--port", str(port)]
    server = subprocess.Popen([*command, "--workers", str(workers)], env=env)
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/artists?page_size=1", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the store did not start within 60 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn finishes what it serves), then SIGKILL after 30 s."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print("the store did not stop within 30 s of SIGTERM: killed", file=sys.stderr)
        server.kill()
        server.wait()


def _refused(response: Any) -> bool:
    """A 503 that says when to come back: the store at capacity, an answer by design."""
    return bool(response.status_code == 503 and response.headers.get("retry-after", "").isdigit())


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.refused: dict[str, int] = defaultdict(int)
        self.samples: list[str] = []
        self.checkouts = 0

    def _sample(self, text: str) -> None:
        if len(self.samples) < 20:
            self.samples.append(text)

    async def call(self, client: Any, label: str, method: str, path: str, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, **kw)
        except Exception as error:  # a transport error is an error of the run
            self.errors[label] += 1
            self._sample(f"{label}: {type(error).__name__}: {error}")
            return None
        self.latency[label].append(time.perf_counter() - started)
        if response.status_code == EXPECTED.get(label, 200):
            return response
        if label == "POST /api/checkout" and _refused(response):
            self.refused[label] += 1
        else:
            self.errors[label] += 1
            self._sample(f"{label}: {response.status_code} {response.text[:200]}")
        return None


async def burst(base: str, shoppers: int, tracks: int, customers: int) -> dict[str, Any]:
    """Every shopper fills a cart, then all check out at the same moment."""
    import httpx

    rng = random.Random(shoppers)
    limits = httpx.Limits(max_connections=1)
    clients = [
        httpx.AsyncClient(base_url=base, timeout=120, limits=limits) for _ in range(shoppers)
    ]
    answers: list[tuple[int, bool, float]] = []  # status, refused with Retry-After, seconds
    samples: list[str] = []
    try:
        for client in clients:
            for track in rng.sample(range(1, tracks + 1), 2):
                added = await client.post("/api/cart", json={"track_id": track, "quantity": 1})
                if added.status_code != 201:
                    raise SystemExit(f"could not fill a cart: {added.status_code} {added.text}")
        start = asyncio.Event()

        async def check_out(client: httpx.AsyncClient) -> None:
            await start.wait()
            began = time.perf_counter()
            try:
                done = await client.post(
                    "/api/checkout", json={"customer_id": rng.randint(1, customers)}
                )
            except httpx.HTTPError as error:
                answers.append((0, False, time.perf_counter() - began))
                samples.append(f"{type(error).__name__}: {error}")
                return
            answers.append((done.status_code, _refused(done), time.perf_counter() - began))
            if done.status_code != 201 and not _refused(done) and len(samples) < 10:
                samples.append(f"{done.status_code} {done.text[:200]}")

        tasks = [asyncio.ensure_future(check_out(c)) for c in clients]
        await asyncio.sleep(0.1)  # every task is waiting at the start line
        began = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - began
    finally:
        for client in clients:
            await client.aclose()
    seconds = [s for _, _, s in answers]
    served = sum(1 for status, _, _ in answers if status == 201)
    refused = sum(1 for _, r, _ in answers if r)
    return {
        "shoppers": shoppers,
        "served": served,
        "refused_503": refused,
        "errors": len(answers) - served - refused,
        "error_samples": samples,
        "p50_ms": _ms(seconds, 0.50),
        "p99_ms": _ms(seconds, 0.99),
        "max_ms": max(seconds) * 1000,
        "seconds_to_last_answer": wall,
    }


async def shopper(
    base: str, deadline: float, rec: Recorder, words: list[str], customers: int, seed: int
) -> None:
    import httpx

    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.monotonic() < deadline:
            await rec.call(
                client, "GET /tracks (page)", "GET", f"/tracks?page={rng.randint(1, 100)}"
            )
            found = await rec.call(
                client, "GET /api/tracks?q", "GET", "/api/tracks",
                params={"q": rng.choice(words), "page_size": 10},
            )  # fmt: skip
            await rec.call(
                client, "GET /api/artists", "GET", f"/api/artists?page={rng.randint(1, 5)}"
            )
            await rec.call(
                client, "GET /api/albums/{id}", "GET", f"/api/albums/{rng.randint(1, 347)}"
            )
            items = found.json()["items"] if found is not None else []
            picks = [t["track_id"] for t in items[:2]] or [rng.randint(1, 3503)]
            while len(picks) < 2:
                picks.append(rng.randint(1, 3503))
            for track in picks:
                await rec.call(
                    client, "POST /api/cart", "POST", "/api/cart",
                    json={"track_id": track, "quantity": rng.randint(1, 2)},
                )  # fmt: skip
            await rec.call(client, "GET /api/cart", "GET", "/api/cart")
            if time.monotonic() >= deadline:
                break
            done = await rec.call(
                client, "POST /api/checkout", "POST", "/api/checkout",
                json={"customer_id": rng.randint(1, customers)},
            )  # fmt: skip
            if done is not None:
                rec.checkouts += 1


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def sustained(
    base: str, seconds: float, shoppers: int, words: list[str], customers: int
) -> tuple[Recorder, float]:
    rec = Recorder()
    started = time.monotonic()
    deadline = started + seconds

    async def everyone() -> None:
        await asyncio.gather(
            *(shopper(base, deadline, rec, words, customers, i) for i in range(shoppers))
        )

    asyncio.run(everyone())
    return rec, time.monotonic() - started


def run_one(kind: str, shoppers: int, args: argparse.Namespace) -> dict[str, Any]:
    """One fresh store on `kind`, one server, a burst then (optionally) sustained shopping."""
    url = prepare_database(kind, args)
    words = sorted({w.lower() for (n,) in sql(url, 'SELECT "Name" FROM "Track"')
                    for w in n.split() if len(w) > 3 and w.isalpha()})  # fmt: skip
    customers = sql(url, 'SELECT count(*) FROM "Customer"')[0][0]
    tracks = sql(url, 'SELECT count(*) FROM "Track"')[0][0]
    before = sql(url, 'SELECT max("InvoiceId") FROM "Invoice"')[0][0]
    server, base = start_server(url, args.workers)
    tree = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    server_cpu_before = sum(_cpu(p) for p in tree)
    try:
        at_once = asyncio.run(burst(base, shoppers, tracks, customers))
        rec, elapsed = (
            sustained(base, args.seconds, shoppers, words, customers)
            if args.seconds > 0
            else (Recorder(), 0.0)
        )
        server_cpu = sum(_cpu(p) for p in tree) - server_cpu_before
    finally:
        stop(server)

    new = sql(url, f'SELECT count(*) FROM "Invoice" WHERE "InvoiceId" > {before}')[0][0]
    mismatched = sql(
        url,
        'SELECT count(*) FROM "Invoice" i LEFT JOIN (SELECT "InvoiceId", '
        'sum("UnitPrice" * "Quantity") AS s FROM "InvoiceLine" GROUP BY "InvoiceId") l '
        'ON l."InvoiceId" = i."InvoiceId" '
        'WHERE l.s IS NULL OR round(l.s, 2) <> round(i."Total", 2)',
    )[0][0]
    without_lines = sql(
        url,
        f'SELECT count(*) FROM "Invoice" i WHERE "InvoiceId" > {before} AND NOT EXISTS '
        '(SELECT 1 FROM "InvoiceLine" l WHERE l."InvoiceId" = i."InvoiceId")',
    )[0][0]
    endpoints = {
        label: {
            "requests": len(values) + rec.errors.get(label, 0),
            "per_second": len(values) / elapsed,
            "p50_ms": _ms(values, 0.50),
            "p99_ms": _ms(values, 0.99),
            "refused_503": rec.refused.get(label, 0),
            "errors": rec.errors.get(label, 0),
        }
        for label, values in rec.latency.items()
    }
    answered = sum(len(v) for v in rec.latency.values())
    return {
        "database": version(url),
        "shoppers": shoppers,
        "workers": args.workers,
        "burst": at_once,
        "seconds": elapsed,
        "requests": sum(e["requests"] for e in endpoints.values()),
        "requests_per_second": answered / elapsed if elapsed else 0.0,
        "errors": sum(rec.errors.values()) + at_once["errors"],
        "error_samples": at_once["error_samples"] + rec.samples,
        "endpoints": endpoints,
        "checkouts": rec.checkouts + at_once["served"],
        "server_cpu_seconds": server_cpu,
        "new_invoices": new,
        "invoices_total_mismatch": mismatched,
        "new_invoices_without_lines": without_lines,
    }


def tables(results: dict[str, Any]) -> list[_report.Table]:
    runs = results["runs"]
    bursts = [
        [r["database"], str(r["shoppers"]), str(r["burst"]["served"]),
         str(r["burst"]["refused_503"]), str(r["burst"]["errors"]), f"{r['burst']['p50_ms']:.0f}",
         f"{r['burst']['p99_ms']:.0f}", f"{r['burst']['max_ms']:.0f}",
         f"{r['burst']['seconds_to_last_answer']:.1f}"]
        for r in runs
    ]  # fmt: skip
    found = [
        (
            "Every shopper checks out at the same moment "
            f"({results['workers']} uvicorn worker(s), fresh store per row)",
            ["database", "shoppers", "201", "503 + Retry-After", "errors", "p50 ms", "p99 ms",
             "max ms", "last answer s"],
            bursts,
        )
    ]  # fmt: skip
    for r in runs:
        if not r["endpoints"]:
            continue
        rows = [
            [label, f"{e['requests']:,}", f"{e['per_second']:.1f}", f"{e['p50_ms']:.0f}",
             f"{e['p99_ms']:.0f}", str(e["refused_503"]), str(e["errors"])]
            for label, e in r["endpoints"].items()
        ]  # fmt: skip
        rows.append(["all", f"{r['requests']:,}", f"{r['requests_per_second']:.1f}", "", "",
                     str(sum(e["refused_503"] for e in r["endpoints"].values())),
                     str(r["errors"] - r["burst"]["errors"])])  # fmt: skip
        title = f"Then {r['shoppers']} shoppers for {r['seconds']:.0f} s, {r['database']}"
        header = ["endpoint", "requests", "req/s", "p50 ms", "p99 ms", "503", "errors"]
        found.append((title, header, rows))
    checks = [
        [r["database"], str(r["shoppers"]), f"{r['checkouts']:,}", f"{r['new_invoices']:,}",
         str(r["invoices_total_mismatch"]), str(r["new_invoices_without_lines"]),
         f"{r['server_cpu_seconds']:.0f}"]
        for r in runs
    ]  # fmt: skip
    found.append(
        (
            "Sales consistency after each run (plain SQL)",
            ["database", "shoppers", "checkouts answered 201", "new invoices",
             "Total ≠ Σ lines", "invoices without lines", "server CPU s"],
            checks,
        )
    )  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql, mariadb")  # fmt: skip
    parser.add_argument("--shoppers", default="100,200", help="comma-separated counts")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--mariadb", default="mysql://root@127.0.0.1:3306")
    parser.add_argument("--workdir", default="/tmp/chinook-store-bench")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "store_load.json"))
    parser.add_argument("--smoke", action="store_true", help="20 shoppers on SQLite for 3 s")
    args = parser.parse_args()
    if args.smoke:
        args.databases, args.shoppers, args.seconds, args.invoices = "sqlite", "20", 3, 200
        args.workdir = str(Path(args.workdir) / "smoke")
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgresql", "mariadb"}
    if unknown:
        parser.error(f"unknown database {', '.join(sorted(unknown))}")
    started = time.monotonic()
    runs = [
        run_one(kind, int(n), args) for kind in kinds for n in args.shoppers.split(",") if n.strip()
    ]
    results = {
        "command": "python bench/store_load.py " + " ".join(sys.argv[1:]),
        "machine": _report.machine_info(),
        "load_average_after": os.getloadavg(),
        "workers": args.workers,
        "seconds": time.monotonic() - started,
        "runs": runs,
    }
    _report.print_rich_tables(tables(results), width=110)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str))
    m = results["machine"]
    md = [
        f"Command: `{results['command']}`",
        "",
        f"Machine: {m['cpu']}, {m['logical_cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB "
        f"RAM, {m['os']}; Python {m['python']}; commit {m['git_commit']}; load average after "
        f"the run {', '.join(f'{x:.1f}' for x in results['load_average_after'])}",
        *_report.markdown_tables(tables(results)),
    ]
    output.with_suffix(".md").write_text("\n".join(md) + "\n")
    print(f"wrote {output} and {output.with_suffix('.md')}", file=sys.stderr)
    if any(
        r["errors"] or r["invoices_total_mismatch"] or r["new_invoices_without_lines"] for r in runs
    ):
        for r in runs:
            for sample in r["error_samples"][:5]:
                print(f"{r['database']}, {r['shoppers']} shoppers: {sample}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
