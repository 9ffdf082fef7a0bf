"""Retry classification, backoff, schedule arithmetic and the settings of pipelines/alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from batchlake.config import PipelineSettings, load_project, parse_duration
from batchlake.errors import ConfigError, LockError, ModelError, SourceError
from batchlake.run.retry import StepTimeout, backoff, call_with_timeout, is_transient
from batchlake.run.scheduler import fires_between, next_fire
from batchlake.transform.quality import QualityGateError


def http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "https://api.example.com/x")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"{status}", request=request, response=response)


def test_transient_and_permanent_errors() -> None:
    refused = "source 'pg': cannot connect to postgresql://x: Connection refused; check sources"
    assert is_transient(SourceError(refused))
    assert is_transient(LockError("another run"))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(http_error(503)) and is_transient(http_error(429))
    assert not is_transient(http_error(404))
    assert not is_transient(ModelError("Binder Error: column x not found"))
    assert not is_transient(ConfigError("bad key"))
    assert not is_transient(QualityGateError("gate"))
    assert not is_transient(StepTimeout("hung"))
    try:
        raise RuntimeError("wrapped") from http_error(502)
    except RuntimeError as exc:
        assert is_transient(exc)  # the cause decides


def test_errors_a_retry_cannot_change_are_permanent() -> None:
    drift = "schema drift in shop.orders: column 'amount' changed type from DOUBLE to VARCHAR"
    assert not is_transient(SourceError(drift))
    assert not is_transient(SourceError("source 'x': the SQLite file /a.sqlite does not exist"))
    try:
        try:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        except EOFError:
            raise SourceError("events.csv.gz is not readable gzip data") from None
    except SourceError as exc:
        assert not is_transient(exc)
    rest = "GET /x failed 6 time(s), last with 503 Service Unavailable; the API is unreachable"
    assert is_transient(SourceError(rest))
    assert not is_transient(SourceError("GET /x answered 404 Not Found; check endpoints.x"))


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(n, 2, 10) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_timeout_raises_and_a_fast_call_returns() -> None:
    import threading

    release = threading.Event()
    interrupted: list[bool] = []
    with pytest.raises(StepTimeout, match=r"timed out after 0\.2s"):
        call_with_timeout(
            lambda: release.wait(30),
            0.2,
            name="step",
            on_timeout=lambda: (interrupted.append(True), release.set()),
        )
    assert interrupted == [True]
    assert call_with_timeout(lambda: 42, 5, name="step") == 42
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 5, name="step")


def test_durations() -> None:
    assert [parse_duration(v) for v in ("90s", "30m", "6h", "2d", "1.5", 7)] == [
        90,
        1800,
        21600,
        172800,
        1.5,
        7,
    ]
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_intervals_align_on_the_epoch_and_cron_follows_its_timezone() -> None:
    every = PipelineSettings(every="15m")
    at = datetime(2026, 5, 1, 10, 7, 30, tzinfo=UTC)
    assert next_fire(every, at) == datetime(2026, 5, 1, 10, 15, tzinfo=UTC)
    # 02:00 in New York is 06:00 UTC in summer (EDT) and 07:00 UTC in winter (EST).
    nightly = PipelineSettings(cron="0 2 * * *", timezone="America/New_York")
    assert next_fire(nightly, datetime(2026, 7, 1, tzinfo=UTC)) == datetime(
        2026, 7, 1, 6, tzinfo=UTC
    )
    assert next_fire(nightly, datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 7, tzinfo=UTC
    )


def test_fires_between_lists_a_few_then_the_latest() -> None:
    minute = PipelineSettings(every="1m")
    start = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    times, truncated = fires_between(minute, start, datetime(2026, 5, 1, 0, 3, 30, tzinfo=UTC), 10)
    assert [t.minute for t in times] == [1, 2, 3] and not truncated
    times, truncated = fires_between(minute, start, datetime(2026, 5, 2, 0, 0, tzinfo=UTC), 5)
    assert [t.minute for t in times[:5]] == [1, 2, 3, 4, 5] and truncated
    assert times[-1] == datetime(2026, 5, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[pipelines.p]\nevery = "1m"\ncron = "* * * * *"\n', "exactly one of cron"),
        ("[pipelines.p]\nselect = []\n", "exactly one of cron"),
        ('[pipelines.p]\ncron = "every day"\n', "not a valid cron expression"),
        ('[pipelines.p]\nevery = "1m"\ntimezone = "Mars/Base"\n', "timezone 'Mars/Base'"),
        ('[pipelines.p]\nevery = "1m"\nalerts = ["chat"]\n', "names chat, not defined"),
        ('[alerts.chat]\ntype = "webhook"\nurl = "http://x"\nreminder = "soon"\n', "duration"),
        ('[alerts.mail]\ntype = "email"\nhost = "h"\nsender = "a@b"\nto = []\n', "to"),
    ],
)
def test_bad_pipeline_and_alert_settings_name_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "batchlake.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_project(tmp_path)
