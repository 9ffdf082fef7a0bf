"""Fill the store's MySQL inventory database with deterministic stock for its products.

    python generate.py --mysql mysql://root@127.0.0.1:3306/store_inventory --seed 7

Tables: `warehouses` (3 of them) and `inventory`, one row per product and warehouse that
stocks it (composite key `product_id, warehouse_id`), with units on hand, units reserved
for open orders and the reorder level. Product ids are those of the store API (1..20 on
https://fakestoreapi.com; `--products N` for another catalogue).

`--round 0` (the default) recreates the tables. `--round N` writes day N's stock moves:
some rows change (sold, restocked), a product enters a warehouse. Changed rows get an
`updated_at` later than any before, which the incremental capture of `inventory` relies
on. Apply rounds in order; the same seed always gives the same rows. Needs pymysql.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

START = datetime(2024, 3, 1)
WAREHOUSES = [(1, "North hub", "Hamburg"), (2, "South hub", "Milan"), (3, "Coast", "Porto")]
DDL = {
    "warehouses": "warehouse_id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, "
    "city VARCHAR(60) NOT NULL",
    "inventory": "product_id INT NOT NULL, warehouse_id INT NOT NULL, on_hand INT NOT NULL, "
    "reserved INT NOT NULL, reorder_level INT NOT NULL, updated_at DATETIME NOT NULL, "
    "PRIMARY KEY (product_id, warehouse_id), INDEX (updated_at)",
}
COLUMNS = ["product_id", "warehouse_id", "on_hand", "reserved", "reorder_level", "updated_at"]
Row = dict[str, Any]


def simulate(seed: int, products: int, upto: int) -> tuple[dict[tuple[int, int], Row], list[Row]]:
    """All inventory rows after rounds 0..`upto`, and the rows round `upto` wrote."""
    stock: dict[tuple[int, int], Row] = {}
    changed: list[Row] = []
    for round_number in range(upto + 1):
        rng = random.Random(f"store-api:{seed}:{products}:{round_number}")
        changed = []
        if round_number == 0:
            for product in range(1, products + 1):
                for warehouse, _, _ in WAREHOUSES:
                    if rng.random() < 0.7:
                        row = _row(rng, product, warehouse, START + timedelta(hours=product))
                        changed.append(row)
        else:
            day = START + timedelta(days=30 + round_number)
            for key in rng.sample(sorted(stock), min(6, len(stock))):
                sold = rng.randrange(0, stock[key]["on_hand"] + 1)
                restock = rng.choice([0, 0, 50])
                row = {**stock[key], "on_hand": stock[key]["on_hand"] - sold + restock}
                row["reserved"] = min(rng.randrange(0, 10), row["on_hand"])
                row["updated_at"] = day + timedelta(minutes=rng.randrange(600))
                changed.append(row)
            missing = [
                (p, w)
                for p in range(1, products + 1)
                for w, _, _ in WAREHOUSES
                if (p, w) not in stock
            ]
            if missing:
                product, warehouse = rng.choice(missing)
                changed.append(_row(rng, product, warehouse, day + timedelta(hours=11)))
        for row in changed:
            stock[(row["product_id"], row["warehouse_id"])] = row
    return stock, changed


def _row(rng: random.Random, product: int, warehouse: int, at: datetime) -> Row:
    on_hand = rng.choice([0, rng.randrange(1, 15), rng.randrange(15, 400)])
    return {
        "product_id": product,
        "warehouse_id": warehouse,
        "on_hand": on_hand,
        "reserved": min(rng.randrange(0, 12), on_hand),
        "reorder_level": rng.choice([5, 10, 20]),
        "updated_at": at,
    }


def fill_mysql(url: str, rows: list[Row], *, fresh: bool) -> None:
    import pymysql

    parts = urlsplit(url)
    database = parts.path.lstrip("/") or "store_inventory"
    conn = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        autocommit=True,
        charset="utf8mb4",
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
            cursor.execute(f"USE `{database}`")
            if fresh:
                for table, columns in DDL.items():
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
                    cursor.execute(f"CREATE TABLE {table} ({columns})")
                cursor.executemany("INSERT INTO warehouses VALUES (%s, %s, %s)", WAREHOUSES)
            names = COLUMNS
            updates = ", ".join(f"{n} = VALUES({n})" for n in names[2:])
            cursor.executemany(
                f"INSERT INTO inventory ({', '.join(names)}) "
                f"VALUES ({', '.join(['%s'] * len(names))}) ON DUPLICATE KEY UPDATE {updates}",
                [[row[n] for n in names] for row in rows],
            )
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mysql", required=True, help="mysql://user:password@host:3306/db")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--products", type=int, default=20, help="product ids 1..N")
    parser.add_argument("--round", type=int, default=0, help="0: recreate; N: moves of day N")
    args = parser.parse_args(argv)
    _, changed = simulate(args.seed, args.products, args.round)
    try:
        fill_mysql(args.mysql, changed, fresh=args.round == 0)
    except ModuleNotFoundError as missing:
        if missing.name != "pymysql":
            raise
        sys.exit(
            "generate.py needs pymysql: `make install` at the repository root installs it "
            "(the dev extra), or `.venv/bin/uv pip install pymysql`"
        )
    print(f"round {args.round} (seed {args.seed}): {len(changed)} inventory rows written")


if __name__ == "__main__":
    main()
