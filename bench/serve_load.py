"""Load on `batchlake serve`: 64 keep-alive connections for 30 s per endpoint.

    .venv/bin/python bench/serve_load.py                 # builds a demo lake (2,000 invoices)
    .venv/bin/python bench/serve_load.py --project DIR   # an existing lake with the Chinook tables
    .venv/bin/python bench/serve_load.py --seconds 10 --connections 16
    .venv/bin/python bench/serve_load.py --smoke --workdir DIR  # 300 invoices, 1 s each

The server runs as `batchlake serve` in its own process on an ephemeral port; the load
generator is a small asyncio HTTP/1.1 client (raw sockets, keep-alive, no library
overhead) in this process. Both share the machine, so the figures are what one 2-core
box does serving and loading at once. Prints a table and writes JSON (and Markdown).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import machine_info

ROWS = "/api/v1/tables/refined/sales_by_day/rows?limit=100"
QUERY_SQL = (
    "SELECT year, quarter, sum(total_amount) AS total, sum(invoices) AS invoices "
    "FROM refined.sales_by_day GROUP BY ALL ORDER BY year, quarter"
)
ROUTES = {
    "health": ("GET", "/api/v1/health"),
    "rows": ("GET", "/api/v1/tables/{zone}/{name}/rows"),
    "query": ("POST", "/api/v1/query"),
}
TARGETS = {"rows": {"rps": 500, "p99_ms": 100}}


def _request(method: str, path: str, body: bytes, key: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {key}",
        "Connection: keep-alive",
    ]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response (Content-Length or chunked); return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _worker(port: int, request: bytes, stop: float, out: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                writer.write(request)
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                out["errors"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            out["latencies"].append(time.perf_counter() - started)
            if status != 200:
                out["errors"] += 1
    finally:
        writer.close()


async def _connections(
    port: int, request: bytes, connections: int, stop_at: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": 0}
    stop = time.perf_counter() + (stop_at - time.time())
    await asyncio.gather(*(_worker(port, request, stop, out) for _ in range(connections)))
    return out


def _process(port: int, request: bytes, connections: int, stop_at: float) -> dict[str, Any]:
    started = time.process_time()
    out = asyncio.run(_connections(port, request, connections, stop_at))
    out["cpu_seconds"] = time.process_time() - started
    return out


def _load(
    port: int, request: bytes, connections: int, seconds: float, processes: int
) -> dict[str, Any]:
    """`connections` keep-alive connections spread over `processes` load processes."""
    import multiprocessing

    started = time.time()
    stop_at = started + seconds
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.starmap(_process, [(port, request, n, stop_at) for n in shares if n])
    elapsed = time.time() - started
    lat = sorted(x for p in parts for x in p["latencies"])
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {
        "requests": len(lat),
        "seconds": round(elapsed, 2),
        "rps": round(len(lat) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1) if lat else 0.0,
        "errors": sum(p["errors"] for p in parts),
        "loadgen_cpu_seconds": round(sum(p["cpu_seconds"] for p in parts), 1),
    }


def _server_buckets(port: int, key: str) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """The server's own latency histogram: (method, route) -> [(upper bound, count)]."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    found: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "batchlake_http_request_seconds_bucket":
                key_ = (sample.labels["method"], sample.labels["route"])
                found.setdefault(key_, []).append((float(sample.labels["le"]), sample.value))
    return found


def _server_quantile(
    before: list[tuple[float, float]], after: list[tuple[float, float]], q: float
) -> float | None:
    """Upper bucket bound under which a fraction q of the requests in between were served."""
    start = dict(before)
    counts = sorted((le, n - start.get(le, 0.0)) for le, n in after)
    total = counts[-1][1] if counts else 0
    for le, n in counts:
        if total and n >= q * total:
            return le
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "batchlake", *args],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, help="an existing lake (default: a new demo)")
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--only", nargs="*", help="endpoints to load: health rows query")
    parser.add_argument("--output", type=Path, default=Path("bench/results/serve_load.json"))
    parser.add_argument("--workdir", type=Path, help="where the demo lake goes (default: temp)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="300 invoices, 4 connections, 1 s per endpoint: a check, not figures",
    )
    args = parser.parse_args()
    if args.smoke:
        args.invoices, args.seconds, args.connections, args.processes = 300, 1.0, 4, 1

    project = args.project
    if project is None:
        parent = args.workdir or Path(tempfile.mkdtemp(prefix="batchlake-serve-bench-"))
        project = parent / "lake"
        _cli("demo", "--dir", str(project), "--invoices", str(args.invoices))
    key = _cli("serve", "-p", str(project), "--new-key", "reader", "--name", "bench").strip()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "BATCHLAKE_API_KEYS"}
    server = subprocess.Popen(
        [sys.executable, "-m", "batchlake", "serve", "-p", str(project), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results: dict[str, Any] = {
        "machine": machine_info(),
        "connections": args.connections,
        "load_processes": args.processes,
        "seconds_per_endpoint": args.seconds,
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        body = json.dumps({"sql": QUERY_SQL}).encode()
        cases = {
            "health": _request("GET", "/api/v1/health", b"", key),  # floor: no lake work
            "rows": _request("GET", ROWS, b"", key),
            "query": _request("POST", "/api/v1/query", body, key),
        }
        results["load_average_before"] = os.getloadavg()
        proc = psutil.Process(server.pid)
        for name, request in cases.items():
            if args.only and name not in args.only:
                continue
            _load(port, request, 4, min(2, args.seconds), 1)  # warm the caches
            cpu = proc.cpu_times()
            hist_before = _server_buckets(port, key)
            measured = _load(port, request, args.connections, args.seconds, args.processes)
            after = proc.cpu_times()
            hist_after = _server_buckets(port, key)
            route = ROUTES[name]
            for q, label in ((0.5, "server_p50_ms_le"), (0.99, "server_p99_ms_le")):
                bound = _server_quantile(hist_before.get(route, []), hist_after[route], q)
                measured[label] = None if bound is None else bound * 1000
            measured["server_cpu_seconds"] = round(
                after.user + after.system - cpu.user - cpu.system, 1
            )
            measured["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
            results[name] = measured
    finally:
        server.terminate()
        server.wait(20)
    header = ["endpoint", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors",
              "server-side p50 / p99 ms (≤ bucket)", "server CPU s", "load gen CPU s",
              "load avg (1 min) after"]  # fmt: skip
    labels = {
        "health": "GET /api/v1/health (floor: no lake work)",
        "rows": f"GET {ROWS}",
        "query": "POST /api/v1/query (aggregate over refined)",
    }
    rows = [
        [labels[n], str(r["requests"]), f"{r['rps']:.0f}", f"{r['p50_ms']:.1f}",
         f"{r['p99_ms']:.1f}", f"{r['max_ms']:.0f}", str(r["errors"]),
         f"≤ {r['server_p50_ms_le']:g} / ≤ {r['server_p99_ms_le']:g}",
         str(r["server_cpu_seconds"]), str(r["loadgen_cpu_seconds"]),
         f"{r['load_average_after'][0]:.1f}"]
        for n, r in results.items() if n in labels
    ]  # fmt: skip
    target = TARGETS["rows"]
    met = (
        results["rows"]["rps"] >= target["rps"]
        and results["rows"]["p99_ms"] <= target["p99_ms"]
        and results["rows"]["errors"] == 0
    )
    results["rows_target_met"] = met
    markdown = "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(r) + " |" for r in rows]
    )
    print(markdown)
    verdict = "not judged (smoke)" if args.smoke else "met" if met else "MISSED"
    print(
        f"\nrows target (>= {target['rps']} req/s, p99 <= {target['p99_ms']} ms, 0 errors): "
        + verdict
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    args.output.with_suffix(".md").write_text(markdown + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
