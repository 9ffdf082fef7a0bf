"""Prometheus metrics of the server: requests, latencies, run outcomes, table freshness.

Each app has its own registry (several apps in one process, as in tests, do not clash).
Freshness is computed when Prometheus scrapes, from the catalog and the batch manifest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from batchlake.lake import Lake
    from batchlake.run.results import RunStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Freshness(Collector):
    """Seconds since each table last changed, and its rows, read at scrape time."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "batchlake_table_age_seconds",
            "Seconds since the table's current snapshot (or last raw batch) was written.",
            labels=["table", "zone"],
        )
        rows = GaugeMetricFamily(
            "batchlake_table_rows", "Rows in the table's current version.", labels=["table", "zone"]
        )
        now = datetime.now(UTC)
        try:
            for raw in self.lake.raw_info():
                age.add_metric([raw.full_name, "raw"], (now - raw.updated_at).total_seconds())
                rows.add_metric([raw.full_name, "raw"], raw.rows)
            for name in self.lake.catalog.table_names():
                info = self.lake.catalog.info(name)
                if info.updated_at is not None:
                    age.add_metric([name, info.zone], (now - info.updated_at).total_seconds())
                rows.add_metric([name, info.zone], info.rows)
        except Exception:  # a scrape must not fail because one table cannot be read
            pass
        yield age
        yield rows


class _History(Collector):
    """The run history's metrics (batchlake.ops.monitoring, also served by the scheduler):
    step durations and rows, table refresh and commit times, pipeline fires and successes.
    Families this server reports itself (runs it started, rows by zone) are left out."""

    _OWN = frozenset({"batchlake_runs", "batchlake_table_rows"})

    def __init__(self, lake: Lake) -> None:
        from batchlake.ops.monitoring import LakeCollector

        self._inner = LakeCollector(lake)

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            if family.name not in self._OWN:
                yield family


class ServeMetrics:
    def __init__(self, lake: Lake) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "batchlake_http_requests",
            "HTTP requests answered, by route and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "batchlake_http_request_seconds",
            "Time to answer a request (until the headers are sent), by route.",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.runs = Counter(
            "batchlake_runs",
            "Pipeline runs started by this server, by outcome.",
            ["status"],
            registry=self.registry,
        )
        self.run_seconds = Histogram(
            "batchlake_run_seconds",
            "Duration of pipeline runs started by this server.",
            buckets=(1, 5, 15, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self.registry.register(_Freshness(lake))
        self.registry.register(_History(lake))

    def observe(self, method: str, route: str, status: int, started: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(time.perf_counter() - started)

    def run_finished(self, status: RunStatus, seconds: float | None) -> None:
        self.runs.labels(status).inc()
        if seconds is not None:
            self.run_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
