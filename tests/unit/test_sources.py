from __future__ import annotations

import pytest

from batchlake.capture import redact_url, scrub_url_secret, snake_case
from batchlake.capture.sql.scanner import _attach_target


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("InvoiceLineId", "invoice_line_id"),
        ("PlaylistTrack", "playlist_track"),
        ("MediaType", "media_type"),
        ("invoice_line", "invoice_line"),
        ("HTTPStatus", "http_status"),
        ("Unit Price", "unit_price"),
        ("ReportsTo", "reports_to"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_attach_targets() -> None:
    assert _attach_target("postgresql://u:p@h:5433/db", "s") == (
        "postgres",
        "postgresql://u:p@h:5433/db",
    )
    kind, target = _attach_target("mysql://root:s3cret@127.0.0.1:3306/shop", "s")
    assert kind == "mysql"
    assert "host=127.0.0.1" in target and "database=shop" in target and "password=s3cret" in target


def test_passwords_are_redacted() -> None:
    assert redact_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    assert redact_url("mongodb://u:p%40ss@h1:27017,h2:27017/app") == (
        "mongodb://u:***@h1:27017,h2:27017/app"
    )
    assert redact_url("sqlite:////data/x.sqlite") == "sqlite:////data/x.sqlite"
    text = "auth failed for p@ss and p%40ss"
    assert scrub_url_secret(text, "mysql://u:p%40ss@h/db") == "auth failed for *** and ***"
