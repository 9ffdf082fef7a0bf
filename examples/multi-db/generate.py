"""Fill the three databases of the multi-db example with deterministic, related data.

    python generate.py --mysql mysql://root@127.0.0.1:3306/multidb_shop \
        --postgres postgresql://postgres@127.0.0.1:5432/multidb_billing \
        --mongo mongodb://127.0.0.1:27017/multidb_app --seed 7 --scale 1

- MySQL (the web shop): `users`, `products`, `orders`.
- PostgreSQL (billing, for business customers): `customers`, `invoices`, `payments`.
- MongoDB (the shop's app): `sessions`, `events`, `logs`, keyed by the shop's user ids.

Some people are in both the shop and billing: they are linked by e-mail, which billing
writes with other letter cases and stray spaces. A few shop users have two accounts with
the same e-mail. Any of the three URLs may be left out; missing databases are created.

`--round 0` (the default) recreates the tables and writes the initial state. `--round N`
then writes what changed on day N: new users, orders and invoices, orders moving on
(pending → paid → shipped, or refunded), invoices paid (with payments) or voided, new
sessions, events and logs. Changed rows get an `updated_at` later than anything before,
which is what the incremental captures of `orders` and `invoices` rely on. Rounds are
meant to be applied in order; the same seed and scale always give the same rows.

The Mongo part takes any pymongo-compatible database object (`fill_mongo`), so tests
hand it mongomock's. Needs pymysql, psycopg and pymongo for the parts that are used.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

START = datetime(2024, 1, 1)  # round 0 spans 180 days from here; round N happens on day 180+N
FIRST = ["ana", "bruno", "chloe", "dmitri", "emma", "farid", "grace", "hugo", "ines", "jonas"]
LAST = ["silva", "martin", "novak", "okafor", "petrov", "quinn", "rossi", "sato", "tanaka"]
COUNTRIES = ["BR", "FR", "DE", "NG", "JP", "US", "IT", "PL"]
CATEGORIES = ["books", "games", "garden", "kitchen", "music", "toys"]
DOMAINS = ["mail.example", "post.example", "inbox.example"]

Row = dict[str, Any]
KEYS = {
    "users": "user_id",
    "products": "product_id",
    "orders": "order_id",
    "customers": "customer_id",
    "invoices": "invoice_id",
    "payments": "payment_id",
    "sessions": "_id",
    "events": "_id",
    "logs": "_id",
}
COLUMNS = {
    "users": "user_id email full_name country created_at",
    "products": "product_id sku name category price",
    "orders": "order_id user_id product_id quantity amount status created_at updated_at",
    "customers": "customer_id email full_name company created_at",
    "invoices": "invoice_id customer_id issued_at due_date amount status updated_at",
    "payments": "payment_id invoice_id paid_at amount method",
}
MYSQL_DDL = {
    "users": "user_id INT PRIMARY KEY, email VARCHAR(120) NOT NULL, "
    "full_name VARCHAR(120) NOT NULL, country CHAR(2) NOT NULL, created_at DATETIME NOT NULL",
    "products": "product_id INT PRIMARY KEY, sku VARCHAR(20) NOT NULL, name VARCHAR(120) NOT NULL, "
    "category VARCHAR(40) NOT NULL, price DECIMAL(10,2) NOT NULL",
    "orders": "order_id INT PRIMARY KEY, user_id INT NOT NULL, product_id INT NOT NULL, "
    "quantity INT NOT NULL, amount DECIMAL(12,2) NOT NULL, status VARCHAR(16) NOT NULL, "
    "created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, INDEX (updated_at)",
}
POSTGRES_DDL = {
    "customers": "customer_id int PRIMARY KEY, email text NOT NULL, full_name text NOT NULL, "
    "company text, created_at timestamp NOT NULL",
    "invoices": "invoice_id int PRIMARY KEY, customer_id int NOT NULL, issued_at timestamp "
    "NOT NULL, due_date date NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL, "
    "updated_at timestamp NOT NULL",
    "payments": "payment_id int PRIMARY KEY, invoice_id int NOT NULL, paid_at timestamp "
    "NOT NULL, amount numeric(12,2) NOT NULL, method text NOT NULL",
}


@dataclass
class World:
    """Every row of the three databases, in memory; `changed` holds one round's upserts."""

    tables: dict[str, dict[Any, Row]] = field(default_factory=lambda: {t: {} for t in KEYS})
    ids: dict[str, list[Any]] = field(default_factory=lambda: {t: [] for t in KEYS})
    changed: dict[str, dict[Any, Row]] = field(default_factory=dict)

    def add(self, table: str, *values: Any) -> Row:
        """A new or changed row of a SQL table, its values in COLUMNS order."""
        row = dict(zip(COLUMNS[table].split(), values, strict=True))
        self.put(table, row)
        return row

    def put(self, table: str, row: Row) -> None:
        key = row[KEYS[table]]
        if key not in self.tables[table]:
            self.ids[table].append(key)
        self.tables[table][key] = row
        self.changed[table][key] = row

    def next_id(self, table: str) -> int:
        return len(self.ids[table]) + 1


def object_id(moment: datetime, serial: int) -> str:
    """An ObjectId's hex as a server makes it: creation time first, then a unique tail."""
    seconds = int(moment.replace(tzinfo=UTC).timestamp())
    return (seconds.to_bytes(4, "big") + serial.to_bytes(8, "big")).hex()


def money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)).scaleb(-2)


def simulate(seed: int, scale: int, upto: int) -> World:
    """The world after rounds 0..`upto`; `changed` is what round `upto` wrote."""
    world = World()
    for round_number in range(upto + 1):
        world.changed = {t: {} for t in KEYS}
        rng = random.Random(f"multi-db:{seed}:{scale}:{round_number}")
        if round_number == 0:
            _initial(world, rng, scale)
        else:
            _day(world, rng, scale, START + timedelta(days=180 + round_number))
    return world


def _moment(rng: random.Random, start: datetime, days: int) -> datetime:
    return start + timedelta(seconds=rng.randrange(days * 86_400))


def _user(world: World, rng: random.Random, created: datetime) -> None:
    n = world.next_id("users")
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{first}.{last}{n}@{rng.choice(DOMAINS)}"
    if n % 15 == 0 and n > 1:  # a second account of the previous user, same e-mail
        email = world.tables["users"][n - 1]["email"].upper()
    name = f"{first.title()} {last.title()}"
    world.add("users", n, email, name, rng.choice(COUNTRIES), created)


def _order(world: World, rng: random.Random, at: datetime) -> None:
    product = world.tables["products"][rng.choice(world.ids["products"])]
    quantity = rng.choice([1, 1, 1, 2, 2, 3, 5])
    status = rng.choice(["pending", "paid", "paid", "shipped", "shipped", "cancelled"])
    user, amount = rng.choice(world.ids["users"]), product["price"] * quantity
    key = world.next_id("orders")
    world.add("orders", key, user, product["product_id"], quantity, amount, status, at, at)


def _invoice(world: World, rng: random.Random, at: datetime, status: str) -> None:
    customer, due = rng.choice(world.ids["customers"]), (at + timedelta(days=30)).date()
    amount = money(rng, 50, 5_000)
    invoice = world.add(
        "invoices", world.next_id("invoices"), customer, at, due, amount, status, at
    )
    if status == "paid":
        _pay(world, rng, invoice, at)


def _pay(world: World, rng: random.Random, invoice: Row, at: datetime) -> None:
    """Payments for the whole amount: one, or two halves a few days apart."""
    parts = [invoice["amount"]]
    if rng.random() < 0.3:
        half = (invoice["amount"] / 2).quantize(Decimal("0.01"))
        parts = [half, invoice["amount"] - half]
    for k, amount in enumerate(parts):
        paid_at = at + timedelta(days=3 * k, minutes=rng.randrange(600))
        method = rng.choice(["card", "transfer", "sepa"])
        world.add(
            "payments", world.next_id("payments"), invoice["invoice_id"], paid_at, amount, method
        )


def _customer(world: World, rng: random.Random, created: datetime) -> None:
    n = world.next_id("customers")
    users = world.tables["users"]
    if n % 5 < 3:  # a shop user, written the billing way: other cases, stray spaces
        user = users[world.ids["users"][(n * 7) % len(users)]]
        local, domain = user["email"].split("@")
        email, name = f"{local.title()}@{domain.upper()}", user["full_name"]
        email = f" {email} " if n % 4 == 0 else email
    else:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email, name = f"{first}.{last}.b{n}@corp.example", f"{first.title()} {last.title()}"
    company = rng.choice([None, "Acme", "Globex", "Initech", "Umbrella"])
    world.add("customers", n, email, name, company, created)


def _session(world: World, rng: random.Random, at: datetime) -> None:
    serial = len(world.ids["sessions"])
    anonymous = rng.random() < 0.1
    pages = rng.randrange(1, 25)
    ended = at + timedelta(seconds=rng.randrange(30, 3_600)) if rng.random() < 0.9 else None
    user_id = None if anonymous else rng.choice(world.ids["users"])
    doc = {
        "_id": object_id(at, serial),
        "user_id": user_id,
        "started_at": at,
        "ended_at": ended,
        "pages": pages,
        "device": {"os": rng.choice(["ios", "android", "web"]), "app": "2.4"},
    }
    world.put("sessions", doc)
    for k in range(rng.randrange(1, 7)):
        kind = rng.choice(["page_view", "page_view", "search", "add_to_cart", "purchase"])
        when = at + timedelta(seconds=20 * (k + 1), milliseconds=rng.randrange(1000))
        event = {
            "_id": object_id(when, 10_000_000 + len(world.ids["events"])),
            "session": doc["_id"],
            "user_id": user_id,
            "kind": kind,
            "at": when,
        }
        if kind == "purchase":
            event["amount"] = money(rng, 5, 400)
        world.put("events", event)


def _log(world: World, rng: random.Random, at: datetime) -> None:
    level = rng.choice(["debug", "info", "info", "info", "warning", "error"])
    doc = {
        "_id": object_id(at, 20_000_000 + len(world.ids["logs"])),
        "at": at,
        "level": level,
        "message": rng.choice(["request served", "cache miss", "retrying"]),
        "latency_ms": round(rng.uniform(0.5, 900), 3),
        "user_id": rng.choice([None, *world.ids["users"][:20]]),
    }
    world.put("logs", doc)


def _initial(world: World, rng: random.Random, scale: int) -> None:
    for n in range(1, 15 * scale + 1):
        name = f"{rng.choice(CATEGORIES)[:-1].title()} item {n}"
        world.add("products", n, f"SKU-{n:05}", name, rng.choice(CATEGORIES), money(rng, 2, 300))
    for _ in range(40 * scale):
        _user(world, rng, _moment(rng, START - timedelta(days=365), 365))
    for _ in range(30 * scale):
        _customer(world, rng, _moment(rng, START - timedelta(days=365), 365))
    for _ in range(150 * scale):
        _order(world, rng, _moment(rng, START, 180))
    for _ in range(100 * scale):
        _invoice(world, rng, _moment(rng, START, 170), rng.choice(["open", "paid", "paid", "void"]))
    for _ in range(120 * scale):
        _session(world, rng, _moment(rng, START, 180))
    for _ in range(200 * scale):
        _log(world, rng, _moment(rng, START, 180))


def _day(world: World, rng: random.Random, scale: int, day: datetime) -> None:
    def at() -> datetime:
        return _moment(rng, day, 1)

    for _ in range(2 * scale):
        _user(world, rng, at())
    _customer(world, rng, at())
    orders, invoices = world.tables["orders"], world.tables["invoices"]
    following = {"pending": "paid", "paid": "shipped", "shipped": "refunded"}
    open_orders = sorted(k for k, o in orders.items() if o["status"] in following)
    for key in rng.sample(open_orders, min(15 * scale, len(open_orders))):
        order = orders[key]
        world.put("orders", {**order, "status": following[order["status"]], "updated_at": at()})
    for _ in range(20 * scale):
        _order(world, rng, at())
    unpaid = sorted(k for k, i in invoices.items() if i["status"] == "open")
    for key in rng.sample(unpaid, min(10 * scale, len(unpaid))):
        moment, status = at(), rng.choice(["paid", "paid", "void"])
        world.put("invoices", {**invoices[key], "status": status, "updated_at": moment})
        if status == "paid":
            _pay(world, rng, invoices[key], moment)
    for _ in range(15 * scale):
        _invoice(world, rng, at(), rng.choice(["open", "paid"]))
    for _ in range(15 * scale):
        _session(world, rng, at())
    for _ in range(30 * scale):
        _log(world, rng, at())


# -- writers ------------------------------------------------------------------------------


def _upsert_sql(table: str, columns: list[str], dialect: str) -> str:
    listed, marks = ", ".join(columns), ", ".join(["%s"] * len(columns))
    others = [c for c in columns if c != KEYS[table]]
    if dialect == "mysql":
        updates = ", ".join(f"{c} = VALUES({c})" for c in others)
        return f"INSERT INTO {table} ({listed}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}"
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in others)
    return (
        f"INSERT INTO {table} ({listed}) VALUES ({marks}) "
        f"ON CONFLICT ({KEYS[table]}) DO UPDATE SET {updates}"
    )


def _write(cursor: Any, world: World, ddl: dict[str, str], dialect: str, fresh: bool) -> None:
    for table, columns_ddl in ddl.items():
        if fresh:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} ({columns_ddl})")
        rows = list(world.changed[table].values())
        if rows:
            columns = list(rows[0])
            cursor.executemany(
                _upsert_sql(table, columns, dialect), [[r[c] for c in columns] for r in rows]
            )


def fill_mysql(url: str, world: World, *, fresh: bool) -> None:
    import pymysql

    parts = urlsplit(url)
    database = parts.path.lstrip("/") or "multidb_shop"
    login = dict(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
    )
    conn = pymysql.connect(**login, autocommit=True, charset="utf8mb4")
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
            cursor.execute(f"USE `{database}`")
            _write(cursor, world, MYSQL_DDL, "mysql", fresh)
    finally:
        conn.close()


def fill_postgres(url: str, world: World, *, fresh: bool) -> None:
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        database = urlsplit(url).path.lstrip("/")
        with psycopg.connect(url, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        conn = psycopg.connect(url, autocommit=True)
    with conn, conn.cursor() as cursor:
        _write(cursor, world, POSTGRES_DDL, "postgres", fresh)


def _bson(doc: Row) -> Row:
    """A document with its BSON types: ids as ObjectId, amounts as Decimal128."""
    from bson import Decimal128, ObjectId

    typed = dict(doc)
    for key in ("_id", "session"):
        if key in typed:
            typed[key] = ObjectId(typed[key])
    if "amount" in typed:
        typed["amount"] = Decimal128(typed["amount"])
    return typed


def fill_mongo(database: Any, world: World, *, fresh: bool) -> None:
    """Write the Mongo part into `database` (pymongo's, or any compatible one)."""
    from bson import ObjectId

    for name in ("sessions", "events", "logs"):
        collection = database[name]
        if fresh:
            collection.drop()
        docs = list(world.changed[name].values())
        if docs:  # an upsert both pymongo and mongomock understand
            collection.delete_many({"_id": {"$in": [ObjectId(d["_id"]) for d in docs]}})
            collection.insert_many([_bson(d) for d in docs])
        if fresh:
            collection.create_index("started_at" if name == "sessions" else "user_id")


DRIVERS = ("pymysql", "psycopg", "pymongo")  # not batchlake's own dependencies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mysql", help="mysql://user:password@host:3306/database (the shop)")
    parser.add_argument("--postgres", help="postgresql://user@host:5432/database (billing)")
    parser.add_argument("--mongo", help="mongodb://host:27017/database (the app)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=1, help="about 1,000 rows per unit")
    parser.add_argument("--round", type=int, default=0, help="0: recreate; N: changes of day N")
    args = parser.parse_args(argv)
    world = simulate(args.seed, args.scale, args.round)
    fresh = args.round == 0
    try:
        if args.mysql:
            fill_mysql(args.mysql, world, fresh=fresh)
        if args.postgres:
            fill_postgres(args.postgres, world, fresh=fresh)
        if args.mongo:
            import pymongo

            client: Any = pymongo.MongoClient(args.mongo, tz_aware=True)
            try:
                fill_mongo(client.get_default_database("multidb_app"), world, fresh=fresh)
            finally:
                client.close()
    except ModuleNotFoundError as missing:
        if missing.name not in DRIVERS:
            raise
        sys.exit(
            f"generate.py needs {missing.name}: `make install` at the repository root "
            f"installs it (the dev extra), or `.venv/bin/uv pip install {missing.name}`"
        )
    written = {t: len(rows) for t, rows in world.changed.items() if rows}
    print(f"round {args.round} (seed {args.seed}, scale {args.scale}): {written}")


if __name__ == "__main__":
    main()
