"""A tiny lake project over a SQLite shop, for the scheduler, runner and quality tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

CUSTOMERS = [
    (1, "ada@example.com", "gold", "2024-05-01 10:00:00"),
    (2, "bob@example.com", "silver", "2024-05-02 11:00:00"),
    (3, "cy@example.com", "bronze", "2024-05-03 12:00:00"),
    (4, "di@example.com", "gold", "2024-05-04 13:00:00"),
]
ORDERS = [(10, 1, 25.0), (11, 1, 10.0), (12, 2, 7.5), (13, 4, 99.0)]


def make_shop(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER, email TEXT, tier TEXT, joined TIMESTAMP)")
    db.execute("CREATE TABLE orders (id INTEGER, customer_id INTEGER, amount REAL)")
    db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", CUSTOMERS)
    db.executemany("INSERT INTO orders VALUES (?, ?, ?)", ORDERS)
    db.commit()
    db.close()


def execute(path: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(path)
    db.execute(sql, params)
    db.commit()
    db.close()


def make_project(root: Path, extra_toml: str = "", source_url: str | None = None) -> Path:
    """The project: source `shop`, trusted.customers, trusted.orders, refined.revenue."""
    root.mkdir(parents=True, exist_ok=True)
    if source_url is None:
        make_shop(root / "shop.sqlite")
        source_url = "sqlite:///shop.sqlite"
    (root / "batchlake.toml").write_text(
        f'name = "shop"\n\n[sources.shop]\ntype = "sql"\nurl = "{source_url}"\n\n{extra_toml}'
    )
    trusted = root / "models" / "trusted"
    refined = root / "models" / "refined"
    trusted.mkdir(parents=True, exist_ok=True)
    refined.mkdir(parents=True, exist_ok=True)
    (trusted / "customers.sql").write_text(
        "SELECT id AS customer_id, email, tier, joined FROM raw.shop.customers "
        "WHERE _batch_id = (SELECT max(_batch_id) FROM raw.shop.customers)"  # latest snapshot
    )
    (trusted / "orders.sql").write_text(
        "SELECT id AS order_id, customer_id, amount FROM raw.shop.orders "
        "WHERE _batch_id = (SELECT max(_batch_id) FROM raw.shop.orders)"
    )
    (refined / "revenue.sql").write_text(
        "SELECT c.tier, sum(o.amount) AS revenue FROM trusted.orders o "
        "JOIN trusted.customers c USING (customer_id) GROUP BY c.tier"
    )
    return root
