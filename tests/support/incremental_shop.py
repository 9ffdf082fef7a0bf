"""A small shop whose lake uses every model kind, for incremental-vs-full equivalence.

The source is a SQLite file of orders, order lines and customers that tests change
between runs (inserts, updates, soft and hard deletes, late rows). `make_project` writes a
lake project reading it with incremental models; `make_project(..., kinds=False)` writes
the same SQL with every model `full`. `tables_of` reads every model's rows, sorted, so two
lakes built from the same captures can be compared row for row.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.cli import read_tables

MODELS: dict[str, tuple[str, str]] = {
    # name: (SQL, kind file)
    "trusted.orders": (
        """
SELECT CAST(order_id AS INTEGER) AS order_id, CAST(customer_id AS INTEGER) AS customer_id,
       CAST(amount AS DECIMAL(10, 2)) AS amount, CAST(day AS DATE) AS day,
       CAST(is_deleted AS BOOLEAN) AS _deleted
FROM raw.shop.orders
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _batch_id DESC) = 1
""",
        'kind = "incremental_by_key"\nunique_key = ["order_id"]\ntombstone = "_deleted"\n',
    ),
    "trusted.lines": (
        """
SELECT CAST(line_id AS INTEGER) AS line_id, CAST(order_id AS INTEGER) AS order_id,
       CAST(qty AS INTEGER) AS qty
FROM raw.shop.lines
QUALIFY row_number() OVER (PARTITION BY line_id ORDER BY _batch_id DESC) = 1
""",
        'kind = "incremental_by_key"\nunique_key = ["line_id"]\n'
        'partition_by = ["bucket(4, line_id)"]\n',
    ),
    "trusted.customers": (
        """
SELECT CAST(customer_id AS INTEGER) AS customer_id, CAST(name AS VARCHAR) AS name
FROM raw.shop.customers
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _batch_id DESC) = 1
""",
        "",
    ),
    "trusted.sales": (
        """
SELECT o.order_id, l.line_id, o.day, c.name AS customer, o.amount, l.qty
FROM trusted.orders AS o
LEFT JOIN trusted.lines AS l ON l.order_id = o.order_id
LEFT JOIN trusted.customers AS c ON c.customer_id = o.customer_id
""",
        'kind = "incremental_by_key"\nunique_key = ["order_id", "line_id"]\n'
        'partition_by = ["bucket(4, order_id)"]\n',
    ),
    "refined.by_day": (
        """
SELECT day, count(DISTINCT order_id) AS orders, CAST(coalesce(sum(qty), 0) AS BIGINT) AS qty,
       CAST(sum(amount) AS DECIMAL(18, 2)) AS amount
FROM (SELECT DISTINCT order_id, day, amount, NULL::BIGINT AS qty FROM trusted.sales
      UNION ALL SELECT order_id, day, 0, qty FROM trusted.sales) AS s
GROUP BY day
""",
        'kind = "incremental_by_time"\ntime_column = "day"\npartition_by = ["month(day)"]\n'
        "lookback = 1\n",
    ),
    "refined.order_log": (
        """
SELECT CAST(order_id AS INTEGER) AS order_id, CAST(amount AS DECIMAL(10, 2)) AS amount,
       _batch_id
FROM raw.shop.orders
""",
        'kind = "append"\n',
    ),
}

DAYS = ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-28", "2024-03-10", "2024-03-11"]


def make_source(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER,
                             amount TEXT NOT NULL, day TEXT NOT NULL,
                             is_deleted INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE lines (line_id INTEGER PRIMARY KEY, order_id INTEGER, qty INTEGER);
        INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
        """
    )
    con.commit()
    con.close()


def make_project(root: Path, source: Path, *, kinds: bool = True) -> Path:
    root.mkdir(parents=True)
    (root / "batchlake.toml").write_text(
        f'name = "shop"\n\n[sources.shop]\ntype = "sql"\nurl = "sqlite:///{source}"\n'
        'tables = "*"\n\n[engine]\nmemory_limit = "1GB"\nthreads = 2\n',
        encoding="utf-8",
    )
    for name, (sql, kind) in MODELS.items():
        zone, table = name.split(".")
        folder = root / "models" / zone
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{table}.sql").write_text(sql.strip() + "\n", encoding="utf-8")
        if kinds and kind:
            (folder / f"{table}.toml").write_text(kind, encoding="utf-8")
    return root


@dataclass
class Shop:
    """The source database, changed by the operations of a test."""

    path: Path
    next_order: int = 1
    next_line: int = 1
    orders: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def run(self, sql: str, *params: Any) -> None:
        con = sqlite3.connect(self.path)
        con.execute(sql, params)
        con.commit()
        con.close()

    def apply(self, op: tuple[Any, ...]) -> None:
        """One change: ("order", day, amount, customer), ("line", order_pick, qty),
        ("update", pick, amount), ("soft_delete", pick), ("hard_delete", pick),
        ("line_update", pick, qty), ("line_delete", pick), ("rename", customer, name)."""
        kind = op[0]
        if kind == "order":
            _, day, amount, customer = op
            self.run(
                "INSERT INTO orders VALUES (?, ?, ?, ?, 0)",
                self.next_order,
                customer,
                f"{amount}.25",
                DAYS[day],
            )
            self.orders.append(self.next_order)
            self.next_order += 1
        elif kind == "line" and self.orders:
            _, pick, qty = op
            order = self.orders[pick % len(self.orders)]
            self.run("INSERT INTO lines VALUES (?, ?, ?)", self.next_line, order, qty)
            self.lines.append(self.next_line)
            self.next_line += 1
        elif kind == "update" and self.orders:
            _, pick, amount = op
            self.run(
                "UPDATE orders SET amount = ? WHERE order_id = ?",
                f"{amount}.50",
                self.orders[pick % len(self.orders)],
            )
        elif kind == "move" and self.orders:
            _, pick, day = op
            order = self.orders[pick % len(self.orders)]
            self.run("UPDATE orders SET day = ? WHERE order_id = ?", DAYS[day], order)
        elif kind == "soft_delete" and self.orders:
            order = self.orders[op[1] % len(self.orders)]
            self.run("UPDATE orders SET is_deleted = 1 WHERE order_id = ?", order)
        elif kind == "hard_delete" and self.orders:
            order = self.orders.pop(op[1] % len(self.orders))
            self.run("DELETE FROM orders WHERE order_id = ?", order)
        elif kind == "line_update" and self.lines:
            _, pick, qty = op
            self.run(
                "UPDATE lines SET qty = ? WHERE line_id = ?",
                qty,
                self.lines[pick % len(self.lines)],
            )
        elif kind == "line_delete" and self.lines:
            line = self.lines.pop(op[1] % len(self.lines))
            self.run("DELETE FROM lines WHERE line_id = ?", line)
        elif kind == "rename":
            _, customer, name = op
            self.run("UPDATE customers SET name = ? WHERE customer_id = ?", name, customer)


def tables_of(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every model's rows, sorted (None first), read through batchlake's own SQL."""
    found = {}
    for name, table in read_tables(root, list(MODELS)).items():
        columns = [c for c in table.column_names if c != "_batch_id"]
        rows = [tuple(row[c] for c in columns) for row in table.to_pylist()]
        found[name] = sorted(rows, key=lambda r: [(v is not None, str(v)) for v in r])
    return found
