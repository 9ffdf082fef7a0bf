"""Alerts: tell people when a pipeline fails, a quality gate fails or a schedule is missed.

Channels are `[alerts.<name>]` in batchlake.toml: `webhook` (a JSON POST whose `text` is
what Slack and Mattermost show), `email` (SMTP with STARTTLS) and `log`. Secrets come from
the environment (`url = "${SLACK_WEBHOOK_URL}"`, `password = "${SMTP_PASSWORD}"`).

No storms: each subject (a pipeline's runs, a table's checks, a pipeline's schedule) has a
state per channel in the metadata database. An alert goes out when the state changes
(ok → failing: the alert; failing → ok: a recovery note) and, while it stays failing,
once per reminder period — never once per failed attempt.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from batchlake.config import (
    AlertChannelSettings,
    AlertEvent,
    EmailAlertSettings,
    WebhookAlertSettings,
    parse_duration,
)
from batchlake.metadata import utcnow

if TYPE_CHECKING:
    from batchlake.metadata import AlertState, MetadataStore

log = logging.getLogger("batchlake.run.alerts")


@dataclass(frozen=True)
class Alert:
    """What happened, where, the error, and where to look."""

    event: AlertEvent
    subject: str  # what the state is kept for, e.g. "pipeline capture"
    summary: str  # one line: "pipeline capture failed"
    detail: str = ""  # the errors
    look: str = ""  # the command to run, e.g. "batchlake runs 2026...-ab12cd"
    project: str = ""
    pipeline: str | None = None
    run_id: str | None = None

    def text(self, kind: str) -> str:
        """The message: kind is `alert`, `reminder`, `recovered` or `success`."""
        head = {
            "alert": "FAILED" if self.event != "missed" else "MISSED",
            "reminder": "STILL FAILING",
            "recovered": "RECOVERED",
            "success": "OK",
        }[kind]
        lines = [f"[batchlake {self.project}] {head}: {self.summary}"]
        if self.detail:
            lines.append(self.detail)
        if self.look:
            lines.append(f"Look: {self.look}")
        return "\n".join(lines)


def send_webhook(channel: WebhookAlertSettings, alert: Alert, kind: str) -> None:
    import httpx

    body = {
        "text": alert.text(kind),
        "event": alert.event,
        "kind": kind,
        "subject": alert.subject,
        "project": alert.project,
        "pipeline": alert.pipeline,
        "run_id": alert.run_id,
    }
    response = httpx.post(
        channel.url, json=body, headers=channel.headers, timeout=channel.timeout_seconds
    )
    response.raise_for_status()


def send_email(channel: EmailAlertSettings, alert: Alert, kind: str) -> None:
    message = EmailMessage()
    message["Subject"] = alert.text(kind).splitlines()[0]
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message.set_content(alert.text(kind) + "\n")
    with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds) as smtp:
        smtp.ehlo()
        if channel.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=channel.ca_file))
            smtp.ehlo()
        if channel.username:
            smtp.login(channel.username, channel.password or "")
        smtp.send_message(message)


def send(channel: AlertChannelSettings, alert: Alert, kind: str) -> None:
    """Deliver one alert on one channel; raises when it could not be delivered."""
    if isinstance(channel, WebhookAlertSettings):
        send_webhook(channel, alert, kind)
    elif isinstance(channel, EmailAlertSettings):
        send_email(channel, alert, kind)
    else:
        log.warning("%s", alert.text(kind))


class Alerter:
    """Decides, from the state kept in the metadata database, which alerts go out."""

    def __init__(
        self,
        channels: dict[str, AlertChannelSettings],
        metadata: MetadataStore,
        *,
        now: Callable[[], datetime] = utcnow,
        sender: Callable[[AlertChannelSettings, Alert, str], None] = send,
    ) -> None:
        self.channels = channels
        self.metadata = metadata
        self.now = now
        self.sender = sender
        self.sent: list[tuple[str, str, Alert]] = []  # (channel, kind, alert), for reports

    def report(
        self, alert: Alert, failing: bool, channels: list[str] | None = None
    ) -> list[tuple[str, str]]:
        """Record the subject's new state; send what the change calls for.

        Returns the (channel, kind) pairs delivered.
        """
        delivered = []
        for name in channels if channels is not None else list(self.channels):
            channel = self.channels[name]
            kind = self._decide(name, channel, alert, failing)
            if kind is None:
                continue
            try:
                self.sender(channel, alert, kind)
            except Exception as exc:  # an alert that cannot go out must not stop the scheduler
                log.error("alert on channel %s could not be sent: %s", name, _first_line(exc))
                continue
            self._remember(name, alert, failing, sent=True)
            self.sent.append((name, kind, alert))
            delivered.append((name, kind))
        return delivered

    def _decide(
        self, name: str, channel: AlertChannelSettings, alert: Alert, failing: bool
    ) -> str | None:
        state = self.metadata.alert_state(f"{name}:{alert.subject}")
        was_failing = state is not None and state["state"] == "failing"
        if failing:
            if alert.event not in channel.on:
                return None
            if not was_failing:
                return "alert"
            assert state is not None
            last = state["last_sent_at"]
            due = last is None or (self.now() - last).total_seconds() >= parse_duration(
                channel.reminder
            )
            return "reminder" if due else None
        if was_failing:
            return "recovered"
        if alert.event == "success" and "success" in channel.on:
            return "success"
        self._remember(name, alert, failing, sent=False)
        return None

    def _remember(self, name: str, alert: Alert, failing: bool, *, sent: bool) -> None:
        key = f"{name}:{alert.subject}"
        state: dict[str, Any] | None = self.metadata.alert_state(key)
        now = self.now()
        new: AlertState = "failing" if failing else "ok"
        changed = state is None or state["state"] != new
        self.metadata.save_alert_state(
            key,
            new,
            changed_at=now if changed or state is None else state["changed_at"],
            last_sent_at=now if sent else (state["last_sent_at"] if state else None),
            sent=(state["sent"] if state else 0) + (1 if sent else 0),
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
