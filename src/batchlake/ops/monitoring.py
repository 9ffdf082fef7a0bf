"""Prometheus metrics of a lake, read from the metadata database and the catalog.

`LakeCollector` computes every metric at scrape time (no state in the process), so the
scheduler, `batchlake serve` and any other process can expose the same figures:

    from prometheus_client import CollectorRegistry
    registry.register(LakeCollector(lake))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from batchlake.lake import Lake


class LakeCollector(Collector):
    """Runs by status, step durations and rows, table freshness, pipeline successes."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def collect(self) -> Iterator[Metric]:
        metadata = self.lake.metadata
        runs = CounterMetricFamily("batchlake_runs", "Runs recorded, by status.", labels=["status"])
        for status, count in sorted(metadata.run_counts().items()):
            runs.add_metric([status], count)
        yield runs

        duration = GaugeMetricFamily(
            "batchlake_step_duration_seconds",
            "Duration of the latest run of each step.",
            labels=["step", "kind", "status"],
        )
        rows = GaugeMetricFamily(
            "batchlake_step_rows", "Rows written by the latest run of each step.", labels=["step"]
        )
        for step in metadata.latest_steps():
            if step["finished_at"] is not None:
                seconds = (step["finished_at"] - step["started_at"]).total_seconds()
                duration.add_metric([step["step"], step["kind"], step["status"]], seconds)
            if step["rows_out"] is not None:
                rows.add_metric([step["step"]], float(step["rows_out"]))
        yield duration
        yield rows

        refreshed = GaugeMetricFamily(
            "batchlake_table_last_refresh_timestamp_seconds",
            "When each table (or raw entity) was last captured or built without error.",
            labels=["table"],
        )
        for table, when in sorted(metadata.last_refresh().items()):
            refreshed.add_metric([table], when.timestamp())
        yield refreshed

        committed = GaugeMetricFamily(
            "batchlake_table_last_commit_timestamp_seconds",
            "When each trusted/refined table's current snapshot was committed.",
            labels=["table"],
        )
        table_rows = GaugeMetricFamily(
            "batchlake_table_rows", "Rows in each table's current snapshot.", labels=["table"]
        )
        catalog = self.lake.catalog
        for name in catalog.table_names():
            info = catalog.info(name)
            table_rows.add_metric([name], float(info.rows))
            if info.updated_at is not None:
                committed.add_metric([name], info.updated_at.timestamp())
        yield committed
        yield table_rows

        fires = CounterMetricFamily(
            "batchlake_pipeline_fires",
            "Scheduled fires of each pipeline, by what became of them.",
            labels=["pipeline", "status"],
        )
        success = GaugeMetricFamily(
            "batchlake_pipeline_last_success_timestamp_seconds",
            "When the latest successful run of each pipeline started.",
            labels=["pipeline"],
        )
        for row in metadata.pipeline_summary():
            fires.add_metric([row["pipeline"], row["status"]], row["count"])
            if row["status"] == "success" and row["last"] is not None:
                success.add_metric([row["pipeline"]], row["last"].timestamp())
        yield fires
        yield success


def serve_metrics(lake: Lake, port: int, address: str = "127.0.0.1") -> int:
    """Serve /metrics over HTTP in a background thread; return the port it listens on."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(LakeCollector(lake))
    server, _thread = start_http_server(port, addr=address, registry=registry)
    return int(server.server_address[1])
