"""On-demand load test of the Chinook store on MariaDB: simulated shoppers for a while.

    python bench/store_load.py [--shoppers 100] [--seconds 60] [--workers 2]
                               [--invoices 2000] [--database store_chinook_bench]
                               [--mariadb mysql://root@127.0.0.1:3306]
                               [--workdir /tmp/chinook-store-bench]
                               [--output bench/results/store_load.json] [--smoke]

A generated Chinook store (`batchlake.demo.generator`, `--invoices`) is copied into the
MariaDB database `--database` (dropped and re-created), then `chinook-store serve` runs it
with `--workers` uvicorn processes on a free port. `--shoppers` concurrent shoppers (httpx
async clients, one cookie jar each) loop for `--seconds`: browse a catalog page (HTML),
search the API, list artists, open an album, add two tracks to the cart, view the cart,
check out as an existing customer. Per endpoint: requests, requests/s, p50/p99 latency
and errors (any status other than the expected one, or a transport error).

Afterwards, with plain SQL: the number of new invoices equals the successful checkouts,
every invoice's Total equals the sum of UnitPrice × Quantity of its lines, and no new
invoice is without lines. Results: `--output` (JSON) and a `.md` beside it. `--smoke`: 4
shoppers for 2 s on 1 worker over 300 invoices, in the database `<database>_smoke` (a check
that the benchmark runs; the consistency checks still apply).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_database(args: argparse.Namespace) -> str:
    """Generate the store (cached in the work folder) and copy it into MariaDB."""
    import pymysql

    from batchlake.demo.generator import generate
    from chinook_store.db import make_engine
    from chinook_store.load import copy_database

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"chinook-{args.invoices}.sqlite"
    if not source.exists():
        generate(source, invoices=args.invoices, seed=42)
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {args.database}")
        cursor.execute(f"CREATE DATABASE {args.database} CHARACTER SET utf8mb4")
    conn.close()
    url = f"{args.mariadb}/{args.database}"
    copy_database(make_engine(f"sqlite:///{source}"), make_engine(url))
    return url


def sql(url: str, query: str) -> list[tuple[Any, ...]]:
    import pymysql

    database = url.rsplit("/", 1)[1]
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=database)
    try:
        with conn.cursor() as cursor:
            cursor.execute(query)
            return list(cursor.fetchall())
    finally:
        conn.close()


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


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: list[str] = []
        self.checkouts = 0

    async def call(self, client: Any, label: str, method: str, path: str, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, **kw)
        except Exception as error:  # a transport error is an error of the run
            self.errors[label] += 1
            self.samples.append(f"{label}: {type(error).__name__}: {error}")
            return None
        self.latency[label].append(time.perf_counter() - started)
        if response.status_code != EXPECTED.get(label, 200):
            self.errors[label] += 1
            if len(self.samples) < 20:
                self.samples.append(f"{label}: {response.status_code} {response.text[:200]}")
            return None
        return response


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


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = prepare_database(args)
    words = sorted({w.lower() for (n,) in sql(url, "SELECT Name FROM Track") for w in n.split()
                    if len(w) > 3 and w.isalpha()})  # fmt: skip
    customers = sql(url, "SELECT count(*) FROM Customer")[0][0]
    before = sql(url, "SELECT max(InvoiceId) FROM Invoice")[0][0]
    server, base = start_server(url, args.workers)
    rec = Recorder()
    tree = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    server_cpu_before = sum(_cpu(p) for p in tree)
    client_cpu_before = time.process_time()
    try:
        started = time.monotonic()
        deadline = started + args.seconds

        async def everyone() -> None:
            await asyncio.gather(
                *(shopper(base, deadline, rec, words, customers, i) for i in range(args.shoppers))
            )

        asyncio.run(everyone())
        elapsed = time.monotonic() - started
        server_cpu = sum(_cpu(p) for p in tree) - server_cpu_before
        client_cpu = time.process_time() - client_cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)

    new = sql(url, f"SELECT count(*) FROM Invoice WHERE InvoiceId > {before}")[0][0]
    mismatched = sql(
        url,
        "SELECT count(*) FROM Invoice i LEFT JOIN (SELECT InvoiceId, sum(UnitPrice * Quantity) "
        "AS s FROM InvoiceLine GROUP BY InvoiceId) l ON l.InvoiceId = i.InvoiceId "
        "WHERE l.s IS NULL OR l.s <> i.Total",
    )[0][0]
    without_lines = sql(
        url,
        f"SELECT count(*) FROM Invoice i WHERE InvoiceId > {before} AND NOT EXISTS "
        "(SELECT 1 FROM InvoiceLine l WHERE l.InvoiceId = i.InvoiceId)",
    )[0][0]
    endpoints = {
        label: {
            "requests": len(values) + rec.errors.get(label, 0),
            "per_second": len(values) / elapsed,
            "p50_ms": _ms(values, 0.50),
            "p99_ms": _ms(values, 0.99),
            "errors": rec.errors.get(label, 0),
        }
        for label, values in rec.latency.items()
    }
    return {
        "command": "python bench/store_load.py " + " ".join(sys.argv[1:]),
        "machine": _report.machine_info(),
        "load_average_after": os.getloadavg(),
        "shoppers": args.shoppers,
        "seconds": elapsed,
        "workers": args.workers,
        "database": "MariaDB " + sql(url, "SELECT version()")[0][0],
        "requests": sum(e["requests"] for e in endpoints.values()),
        "requests_per_second": sum(len(v) for v in rec.latency.values()) / elapsed,
        "errors": sum(rec.errors.values()),
        "error_samples": rec.samples,
        "endpoints": endpoints,
        "checkouts": rec.checkouts,
        "server_cpu_seconds": server_cpu,
        "load_generator_cpu_seconds": client_cpu,
        "server_cpu_ms_per_request": server_cpu
        * 1000
        / max(1, sum(len(v) for v in rec.latency.values())),
        "new_invoices": new,
        "invoices_total_mismatch": mismatched,
        "new_invoices_without_lines": without_lines,
    }


def tables(r: dict[str, Any]) -> list[_report.Table]:
    rows = [
        [label, f"{e['requests']:,}", f"{e['per_second']:.1f}", f"{e['p50_ms']:.0f}",
         f"{e['p99_ms']:.0f}", str(e["errors"])]
        for label, e in r["endpoints"].items()
    ]  # fmt: skip
    rows.append(["all", f"{r['requests']:,}", f"{r['requests_per_second']:.1f}", "", "",
                 str(r["errors"])])  # fmt: skip
    cores = r["machine"]["logical_cores"]
    cpu = [
        ["server (all workers)", f"{r['server_cpu_seconds']:.0f}"],
        ["load generator (this process)", f"{r['load_generator_cpu_seconds']:.0f}"],
        [f"available: {cores} cores × {r['seconds']:.0f} s", f"{cores * r['seconds']:.0f}"],
        ["server CPU per request (ms)", f"{r['server_cpu_ms_per_request']:.1f}"],
    ]
    checks = [
        ["checkouts answered 201", f"{r['checkouts']:,}"],
        ["new invoices in the database", f"{r['new_invoices']:,}"],
        ["invoices whose Total ≠ sum of lines (all invoices)", str(r["invoices_total_mismatch"])],
        ["new invoices without lines", str(r["new_invoices_without_lines"])],
    ]
    title = (
        f"{r['shoppers']} shoppers, {r['seconds']:.0f} s, {r['workers']} uvicorn workers, "
        f"{r['database']}"
    )
    return [
        (title, ["endpoint", "requests", "req/s", "p50 ms", "p99 ms", "errors"], rows),
        ("CPU seconds during the run", ["who", "CPU s"], cpu),
        ("Sales consistency after the run (plain SQL)", ["check", "value"], checks),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--database", default="store_chinook_bench")
    parser.add_argument("--mariadb", default="mysql://root@127.0.0.1:3306")
    parser.add_argument("--workdir", default="/tmp/chinook-store-bench")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "store_load.json"))
    parser.add_argument("--smoke", action="store_true", help="tiny and short: a check")
    args = parser.parse_args()
    if args.smoke:
        args.shoppers, args.seconds, args.workers, args.invoices = 4, 2.0, 1, 300
        args.database = f"{args.database}_smoke"
    results = run(args)
    _report.print_rich_tables(tables(results), width=100)
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
    if (
        results["errors"]
        or results["invoices_total_mismatch"]
        or results["new_invoices_without_lines"]
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
