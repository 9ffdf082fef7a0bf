from __future__ import annotations

import pytest

from batchlake.sources import snake_case
from batchlake.sources.sql import _attach_target, _redact


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
    assert _redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
