"""Running unattended: runs, serving, charts, pipelines (schedules) and alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from batchlake.config.base import STATE_DIR, _Settings
from batchlake.config.units import parse_duration


class RunSettings(_Settings):
    """How runs behave."""

    lock_timeout_seconds: float = Field(default=0, ge=0)
    lock_ttl_seconds: float = Field(default=60, gt=5)
    # Capture threads: different sources are captured in parallel, one thread per source.
    concurrency: int = Field(default=4, ge=1)
    # Attempts after the first, for transient errors only (see batchlake.run.retry).
    retries: int = Field(default=2, ge=0)
    retry_backoff_seconds: float = Field(default=2, ge=0)  # doubled after each attempt
    retry_max_backoff_seconds: float = Field(default=60, ge=0)
    step_timeout_seconds: float | None = Field(default=None, gt=0)  # None: no limit


class ServeSettings(_Settings):
    """`batchlake serve`: the REST API and dashboard (`[serve]`)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Reading without a key, for requests from this machine only (the host must be loopback).
    open_read: bool = False
    cors_origins: list[str] = Field(default_factory=list)
    keys_file: str = f"{STATE_DIR}/api_keys.json"  # hashed keys; relative to the project
    query_max_rows: int = Field(default=10_000, ge=1)
    query_timeout_seconds: float = Field(default=10, gt=0)
    cache_mb: int = Field(default=512, ge=0)  # tables held in memory, per snapshot
    memory_limit: str = "1GB"  # per query connection


# -- analytics: Python step parameters and charts (transform.python_steps, analytics.report) --


class ChartSettings(_Settings):
    """A chart of `batchlake report` (`[[charts]]`): rows of `table`, or of `sql` if given."""

    title: str
    table: str | None = None
    sql: str | None = None  # a SELECT over the lake (DuckDB dialect) instead of a whole table
    kind: Literal["line", "bar", "barh", "scatter", "area"] = "bar"
    x: str
    y: str | list[str]  # one column, or several drawn side by side (bar) or as lines
    color: str | None = None  # a column whose values split the rows into coloured series
    stacked: bool = False  # bar/area with color: stack the series instead of grouping
    unit: str = ""  # what y is measured in ("USD", "tracks"), shown on the value axis
    description: str = ""

    @model_validator(mode="after")
    def _table_or_sql(self) -> ChartSettings:
        if (self.table is None) == (self.sql is None):
            raise ValueError(f"chart '{self.title}' needs exactly one of table = '...' or sql")
        return self


class PipelineSettings(_Settings):
    """A named pipeline (`[pipelines.<name>]`): steps to run and when."""

    select: list[str] = Field(default_factory=list)  # as `--select` takes; empty: everything
    cron: str | None = None  # e.g. "*/30 * * * *", in `timezone`
    every: str | float | None = None  # or an interval: "30m", "1h", 90 (seconds)
    timezone: str = "UTC"
    catch_up: Literal["once", "skip"] = "once"  # fires missed while down: run once, or skip
    full_refresh: bool = False
    alerts: list[str] | None = None  # channel names of [alerts.*]; None: every channel
    lock_wait_seconds: float = Field(default=300, ge=0)  # wait for another run's lock

    @model_validator(mode="after")
    def _one_schedule(self) -> PipelineSettings:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron = '<expression>' or every = '<interval>'")
        if self.every is not None and parse_duration(self.every) <= 0:
            raise ValueError("every must be a positive interval")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"cron '{self.cron}' is not a valid cron expression")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone '{self.timezone}' is unknown; use an IANA name such as Europe/Lisbon"
            ) from None
        return self


MAINTENANCE = "maintenance"  # the scheduler's name for the [maintenance] schedule


class MaintenanceSettings(_Settings):
    """`batchlake maintain` run by `batchlake scheduler` on a schedule (`[maintenance]`).

    Without `cron` or `every` the scheduler does not maintain the lake (run
    `batchlake maintain` yourself). The other keys are the command's options; raw
    retention itself is configured per source or entity (`raw_retention`,
    `raw_keep_batches`).
    """

    cron: str | None = None  # e.g. "0 3 * * *", in `timezone`
    every: str | float | None = None  # or an interval: "1d"
    timezone: str = "UTC"
    catch_up: Literal["once", "skip"] = "once"
    retain_days: float = Field(default=7, ge=0)  # expire Iceberg snapshots older than this...
    keep: int = Field(default=5, ge=1)  # ... always keeping this many newest
    grace_hours: float = Field(default=24, ge=0)  # unreferenced files older than this go
    compact: bool = True  # rewrite tables spread over many small files
    raw_retention: bool = True  # expire raw batches by the sources' retention keys
    alerts: list[str] | None = None  # channel names of [alerts.*]; None: every channel

    @property
    def scheduled(self) -> bool:
        return self.cron is not None or self.every is not None

    def schedule(self) -> PipelineSettings:
        """The schedule as the scheduler runs pipelines (its checks included)."""
        return PipelineSettings(
            cron=self.cron,
            every=self.every,
            timezone=self.timezone,
            catch_up=self.catch_up,
            alerts=self.alerts,
        )

    @model_validator(mode="after")
    def _valid_schedule(self) -> MaintenanceSettings:
        if self.cron is not None and self.every is not None:
            raise ValueError("give at most one of cron = '<expression>' or every = '<interval>'")
        if self.scheduled:
            self.schedule()  # the same checks as a pipeline's cron, interval and timezone
        return self


AlertEvent = Literal["failure", "quality", "missed", "success"]


def _default_events() -> list[AlertEvent]:
    return ["failure", "quality", "missed"]


class _AlertChannel(_Settings):
    on: list[AlertEvent] = Field(default_factory=_default_events)
    reminder: str | float = "6h"  # while something stays broken, remind this often

    @field_validator("reminder")
    @classmethod
    def _reminder_is_duration(cls, value: str | float) -> str | float:
        parse_duration(value)
        return value


class WebhookAlertSettings(_AlertChannel):
    """A JSON POST with a Slack-compatible `text` field (Slack, Mattermost, Teams, ...)."""

    type: Literal["webhook"]
    url: str  # write it as ${SLACK_WEBHOOK_URL}: it is a secret
    timeout_seconds: float = Field(default=10, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


class EmailAlertSettings(_AlertChannel):
    """Mail through an SMTP server, upgraded to TLS with STARTTLS."""

    type: Literal["email"]
    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None  # write it as ${SMTP_PASSWORD}
    sender: str
    to: list[str] = Field(min_length=1)
    ca_file: str | None = None  # a CA bundle to trust (a private server's certificate)
    timeout_seconds: float = Field(default=30, gt=0)


class LogAlertSettings(_AlertChannel):
    """A warning line in the log of the process that raised the alert."""

    type: Literal["log"]


AlertChannelSettings = Annotated[
    WebhookAlertSettings | EmailAlertSettings | LogAlertSettings, Field(discriminator="type")
]
