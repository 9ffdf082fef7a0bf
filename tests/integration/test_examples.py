"""The example projects of examples/, each run end to end on a copy in tmp_path.

Sources are real where this machine has them (PostgreSQL, MariaDB) and replayed where it
has not: the store API, the COVID-19 download and the World Bank API are local HTTP
servers in threads answering from ../shared/datasets, and MongoDB is mongomock, injected
through `batchlake.capture.mongo.CLIENT_FACTORY` (so multi-db runs in-process with
`Runner(Lake.open(dir)).run()`; the others run the real `batchlake` command). Every
refined table is compared with an independent computation in Python over the same source
data, after a first run and after a second, incremental one.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from statistics import median, stdev
from typing import Any

import pytest

from batchlake.lake import Lake
from tests.conftest import REPO, dataset, require_service
from tests.support.cli import batchlake

Row = dict[str, Any]
PG = "postgresql://postgres@127.0.0.1:5432/"
MYSQL = "mysql://root@127.0.0.1:3306/"
LOCAL = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
CHANGED = "SELECT max(updated_at) AS last, count(*) AS n FROM {} WHERE updated_at > '{}'"
# Each refined table's key columns, for comparing rows in any order.
KEYS = {
    "revenue_per_customer": "email",
    "user_activity": "user_id",
    "logs_by_month": "month level",
    "price_stats_by_category": "category",
    "revenue_by_category": "category",
    "top_users": "user_id",
    "stock_by_category": "category",
    "cases_per_million": "country month",
    "unmatched_countries": "country",
}


# -- helpers ------------------------------------------------------------------------------


def columns(names: str) -> list[str]:
    return names.split()


def fresh_databases(pg: str | None = None, mysql: str | None = None) -> None:
    if pg:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        import psycopg

        with psycopg.connect(PG + "postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {pg} WITH (FORCE)")
    if mysql:
        require_service("MariaDB", "127.0.0.1", 3306)
        import pymysql

        with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {mysql}")


def sql_rows(url: str, sql: str) -> list[Row]:
    """Rows of a query on PostgreSQL or MariaDB, read with the plain drivers."""
    if url.startswith("postgresql"):
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(url, row_factory=dict_row) as conn:
            return list(conn.execute(sql).fetchall())
    import pymysql

    database, as_dicts = url.rsplit("/", 1)[-1], pymysql.cursors.DictCursor
    with (
        pymysql.connect(host="127.0.0.1", user="root", database=database) as conn,
        conn.cursor(as_dicts) as cursor,
    ):
        cursor.execute(sql)
        return list(cursor.fetchall())


def table(project: Path, name: str) -> list[Row]:
    return Lake.open(project).query_table(f"SELECT * FROM {name}").to_pylist()


def batches(project: Path, source: str, entity: str) -> list[tuple[str, int]]:
    """(status, rows) of every capture of an entity: written, duplicate or unchanged."""
    found = Lake.open(project).metadata.batches(source, entity, status=None)
    return [(b.status, b.rows) for b in found]


def half_up(numerator: Decimal | int, denominator: Decimal | int) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def rank(values: list[Any], value: Any) -> int:
    return 1 + sum(1 for other in values if other > value)


def run_script(project: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(project / "generate.py"), *args], check=True)


def load_module(path: Path) -> Any:
    """A Python file of an example, imported (its dataclasses need it in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def running(server: Any) -> Iterator[str]:
    """An example's replay server (bound to 127.0.0.1, port 0) in a thread; its URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("example", "name", "run"),
    [("multi_db", n, run) for n in list(KEYS)[:3] for run in (0, 1)]
    + [("store_api", n, run) for n in list(KEYS)[3:7] for run in (0, 1)]
    + [("indicators", n, 1) for n in list(KEYS)[7:]],
)
def test_refined_table_equals_python(
    request: pytest.FixtureRequest, example: str, name: str, run: int
) -> None:
    """Same rows and columns; exact values and Python types, floats to 1e-9."""
    story = request.getfixturevalue(example)
    got, want = story["refined"][run][name], story["expected"][run][name]
    assert want, f"no data to check {name} with"

    def key(row: Row) -> tuple[Any, ...]:
        return tuple(row[c] for c in KEYS[name].split())

    assert sorted(map(key, got)) == sorted(map(key, want))
    found = {key(row): row for row in got}
    for expected in want:
        row = found[key(expected)]
        assert list(row) == list(expected), key(expected)
        for column, value in expected.items():
            where = (name, key(expected), column)
            if isinstance(value, float):
                assert row[column] == pytest.approx(value, rel=1e-9), where
            else:
                assert (row[column], type(row[column])) == (value, type(value)), where


# -- multi-db: MySQL + PostgreSQL + MongoDB (mongomock) ----------------------------------

SHOP_DB, BILLING_DB, PAID = "batchlake_ex_shop", "batchlake_ex_billing", ("paid", "shipped")
REVENUE = columns(
    "email name systems shop_accounts shop_orders shop_revenue billing_accounts "
    "invoices invoiced billing_paid total_revenue"
)
ACTIVITY = columns(
    "user_id email sessions pages pages_per_session events purchases purchase_amount "
    "shop_orders first_seen last_seen"
)
LOGS = columns("month level entries users avg_latency_ms max_latency_ms")


def expect_multi_db(shop: str, billing: str, app: Any) -> dict[str, list[Row]]:
    """The refined tables of multi-db, from the three databases' current rows."""
    values: tuple[Any, ...]
    users = sql_rows(shop, "SELECT user_id, email, full_name FROM users ORDER BY user_id")
    orders = sql_rows(shop, "SELECT user_id, amount, status FROM orders")
    customers = sql_rows(billing, "SELECT * FROM customers ORDER BY customer_id")
    invoices = sql_rows(billing, "SELECT invoice_id, customer_id, amount, status FROM invoices")
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for payment in sql_rows(billing, "SELECT invoice_id, amount FROM payments"):
        paid[payment["invoice_id"]] += payment["amount"]
    people: dict[str, tuple[list[Row], list[Row]]] = defaultdict(lambda: ([], []))
    for n, found in enumerate((users, customers)):
        for row in found:
            people[row["email"].strip().lower()][n].append(row)
    revenue = []
    for email, (accounts, billed) in people.items():
        ids, customer_ids = {a["user_id"] for a in accounts}, {c["customer_id"] for c in billed}
        sold = [o["amount"] for o in orders if o["user_id"] in ids and o["status"] in PAID]
        theirs = [i for i in invoices if i["customer_id"] in customer_ids]
        live = [i["amount"] for i in theirs if i["status"] != "void"]
        got = sum((paid[i["invoice_id"]] for i in theirs), Decimal(0))
        where = "both" if ids and customer_ids else ("shop" if ids else "billing")
        name = (billed or accounts)[0]["full_name"].strip()
        values = (email, name, where, len(ids), len(sold), sum(sold, Decimal(0)))
        values += (len(customer_ids), len(live), sum(live, Decimal(0)), got, sum(sold, got))
        revenue.append(dict(zip(REVENUE, values, strict=True)))
    for row in revenue:
        row["rank"] = rank([r["total_revenue"] for r in revenue], row["total_revenue"])

    sessions, events, activity = list(app.sessions.find()), list(app.events.find()), []
    for user in users:
        mine = [s for s in sessions if s["user_id"] == user["user_id"]]
        acts = [e for e in events if e["user_id"] == user["user_id"]]
        bought = [e["amount"].to_decimal() for e in acts if e["kind"] == "purchase"]
        pages = sum(s["pages"] for s in mine)
        starts = [s["started_at"].replace(tzinfo=None) for s in mine]
        ends = [(s["ended_at"] or s["started_at"]).replace(tzinfo=None) for s in mine]
        values = (user["user_id"], user["email"].strip().lower(), len(mine), pages)
        values += (half_up(pages, len(mine)) if mine else None, len(acts), len(bought))
        values += (sum(bought, Decimal(0)), sum(o["user_id"] == user["user_id"] for o in orders))
        values += (min(starts, default=None), max(ends, default=None))
        activity.append(dict(zip(ACTIVITY, values, strict=True)))

    groups: dict[tuple[date, str], list[Row]] = defaultdict(list)
    for log in app.logs.find():
        groups[(date(log["at"].year, log["at"].month, 1), log["level"])].append(log)
    logs = []
    for (month, level), found in groups.items():
        latency = [x["latency_ms"] for x in found]
        seen = len({x["user_id"] for x in found} - {None})
        values = (month, level, len(found), seen, sum(latency) / len(latency), max(latency))
        logs.append(dict(zip(LOGS, values, strict=True)))
    return {"revenue_per_customer": revenue, "user_activity": activity, "logs_by_month": logs}


@pytest.fixture(scope="module")
def multi_db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two rounds of the generator, each followed by a run, as a scheduler would do."""
    import mongomock

    from batchlake.capture import mongo
    from batchlake.run.runner import Runner

    fresh_databases(pg=BILLING_DB, mysql=SHOP_DB)
    project = Path(shutil.copytree(REPO / "examples/multi-db", tmp_path_factory.mktemp("m") / "x"))
    shop, billing = MYSQL + SHOP_DB, PG + BILLING_DB
    generate = load_module(project / "generate.py")
    server: Any = mongomock.MongoClient(tz_aware=True)
    story: dict[str, Any] = {"project": project, "expected": [], "refined": []}
    app = server["multidb_app"]

    def factory(url: str, **options: Any) -> mongomock.MongoClient:
        return mongomock.MongoClient(url, _store=server._store, **options)

    watched, runs = {"orders": shop, "invoices": billing}, []
    last = dict.fromkeys(watched, "1970-01-01")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mongo, "CLIENT_FACTORY", factory)
        patch.delenv("APP_MONGO_DB", raising=False)  # the project's default: multidb_app
        patch.setenv("SHOP_URL", shop)
        patch.setenv("BILLING_URL", billing)
        patch.setenv("APP_MONGO_URL", "mongodb://reader:not-a-secret@mongo.invalid:27017")
        for round_number in (0, 1):
            options = ["--seed", "11", "--scale", "1", "--round", str(round_number)]
            run_script(project, "--mysql", shop, "--postgres", billing, *options)
            world = generate.simulate(11, 1, round_number)
            generate.fill_mongo(app, world, fresh=round_number == 0)
            # What the incremental captures should take: rows past their last cursor.
            found = {t: sql_rows(u, CHANGED.format(t, last[t]))[0] for t, u in watched.items()}
            story.setdefault("changed", []).append({t: r["n"] for t, r in found.items()})
            last = {t: r["last"] for t, r in found.items()}
            runs.append(Runner(Lake.open(project)).run())
            story["expected"].append(expect_multi_db(shop, billing, app))
            story["refined"].append({n: table(project, f"refined.{n}") for n in list(KEYS)[:3]})
    return {**story, "runs": runs}


def test_multi_db_second_run_captures_only_what_changed(multi_db: dict[str, Any]) -> None:
    first, second = multi_db["runs"]
    assert first.ok and second.ok, [s.message for s in (*first.steps, *second.steps) if s.message]
    steps, changed = {s.name: s for s in second.steps}, multi_db["changed"]
    assert changed[0] == {"orders": 150, "invoices": 100}
    assert changed[1]["orders"] > 20 and changed[1]["invoices"] > 15  # new ones and updates
    assert steps["raw.shop.orders"].rows == changed[1]["orders"]
    assert steps["raw.billing.invoices"].rows == changed[1]["invoices"]
    assert steps["raw.shop.products"].status == "duplicate"  # full capture, nothing changed
    assert steps["trusted.products"].status == "unchanged"
    orders = [("written", n["orders"]) for n in changed]
    assert batches(multi_db["project"], "shop", "orders") == orders
    merged = [o["order_id"] for o in table(multi_db["project"], "trusted.orders")]
    assert sorted(merged) == list(range(1, 150 + 20 + 1))  # one row per order, 20 new ones


# -- store-api: a Fake Store-style REST API + the MySQL inventory ------------------------

INVENTORY_DB, TOKEN = "batchlake_ex_inventory", "example-store-token"
STATS = columns(
    "category products min_price max_price total_price mean_price median_price "
    "stddev_price mean_rating ratings"
)
SALES = columns("category carts users lines units revenue share_pct")
TOP_USERS = columns("user_id username full_name city carts units spent favourite_category")
STOCK = columns(
    "category products products_in_stock on_hand reserved available available_value rows_to_reorder"
)
NEW_CART = {"id": 8, "userId": 6, "date": "2020-04-01T09:30:00.000Z", "__v": 0}
NEW_CART["products"] = [{"productId": 14, "quantity": 2}, {"productId": 1, "quantity": 1}]


def expect_store(data: dict[str, list[Row]], inventory: list[Row]) -> dict[str, list[Row]]:
    """The refined tables of store-api, from the served JSON and the inventory's rows."""
    values: tuple[Any, ...]
    products = {p["id"]: p for p in data["products"]}
    price = {i: Decimal(str(p["price"])).quantize(Decimal("0.01")) for i, p in products.items()}
    kind = {i: p["category"].strip().lower() for i, p in products.items()}
    lines = [(c, i["productId"], i["quantity"]) for c in data["carts"] for i in c["products"]]
    total = sum(q * price[i] for _, i, q in lines)
    stats, sales, stock, users = [], [], [], []
    for name in set(kind.values()):
        ids = [i for i in products if kind[i] == name]
        prices, rates = [price[i] for i in ids], [products[i]["rating"]["rate"] for i in ids]
        values = (name, len(ids), min(prices), max(prices), sum(prices))
        values += (half_up(sum(prices), len(prices)), median(prices), stdev(map(float, prices)))
        values += (sum(rates) / len(rates), sum(products[i]["rating"]["count"] for i in ids))
        stats.append(dict(zip(STATS, values, strict=True)))
        sold = [(c, i, q) for c, i, q in lines if kind[i] == name]
        worth = sum((q * price[i] for _, i, q in sold), Decimal(0))
        values = (name, len({c["id"] for c, _, _ in sold}), len({c["userId"] for c, _, _ in sold}))
        values += (len(sold), sum(q for _, _, q in sold), worth, half_up(100 * worth, total))
        sales += [dict(zip(SALES, values, strict=True))] if sold else []
        held = [r for r in inventory if kind[r["product_id"]] == name]
        free = [(r["on_hand"] - r["reserved"], price[r["product_id"]]) for r in held]
        values = (name, len(ids), len({r["product_id"] for r in held if r["on_hand"] > 0}))
        values += (sum(r["on_hand"] for r in held), sum(r["reserved"] for r in held))
        values += (sum(n for n, _ in free), sum((n * p for n, p in free), Decimal(0)))
        values += (sum(r["on_hand"] <= r["reorder_level"] for r in held),)
        stock.append(dict(zip(STOCK, values, strict=True)))
    for user in data["users"]:
        mine = [(c, i, q) for c, i, q in lines if c["userId"] == user["id"]]
        units: dict[str, int] = defaultdict(int)
        for _, i, q in mine:
            units[kind[i]] += q
        full_name = f"{user['name']['firstname']} {user['name']['lastname']}"
        values = (user["id"], user["username"], full_name)
        values += (user["address"]["city"], len({c["id"] for c, _, _ in mine}))
        values += (sum(units.values()), sum((q * price[i] for _, i, q in mine), Decimal(0)))
        values += (min(units, key=lambda k: (-units[k], k)) if units else None,)
        users.append(dict(zip(TOP_USERS, values, strict=True)))
    for row in sales:
        row["rank"] = rank([r["revenue"] for r in sales], row["revenue"])
    for row in users:
        row["rank"] = rank([u["spent"] for u in users if u["carts"]], row["spent"])
        row["rank"] = row["rank"] if row["carts"] else None
    return dict(zip(list(KEYS)[3:7], (stats, sales, users, stock), strict=True))


@pytest.fixture(scope="module")
def store_api(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two CLI runs: the second after a new cart and a day of stock moves."""
    fresh_databases(mysql=INVENTORY_DB)
    project = Path(shutil.copytree(REPO / "examples/store-api", tmp_path_factory.mktemp("s") / "x"))
    names = ("products", "users", "carts")
    data = {n: json.loads(dataset(f"fakestore/{n}.json").read_text("utf-8")) for n in names}
    url, last = MYSQL + INVENTORY_DB, "1970-01-01"
    story: dict[str, Any] = {"project": project, "expected": [], "refined": [], "stderr": []}
    with running(load_module(project / "serve.py").StoreServer(data, token=TOKEN)) as base:
        env = {**LOCAL, "STORE_API_URL": base, "STORE_API_AUTH": "bearer"}
        env |= {"STORE_API_TOKEN": TOKEN, "STORE_API_PAGE_SIZE": "4", "INVENTORY_URL": url}
        for round_number in (0, 1):
            if round_number:
                story["cursor"] = max(c["date"] for c in data["carts"])
                data["carts"].append(NEW_CART)
            run_script(project, "--mysql", url, "--seed", "5", "--round", str(round_number))
            found = sql_rows(url, CHANGED.format("inventory", last))[0]
            story.setdefault("changed", []).append(found["n"])
            last = found["last"]
            story["stderr"].append(batchlake("run", "-p", str(project), env=env).stderr)
            story["expected"].append(expect_store(data, sql_rows(url, "SELECT * FROM inventory")))
            story["refined"].append({n: table(project, f"refined.{n}") for n in list(KEYS)[3:7]})
    return story


def test_store_api_second_run_captures_only_new_carts_and_stock(store_api: dict[str, Any]) -> None:
    project, changed = store_api["project"], store_api["changed"]
    assert "duplicate" in store_api["stderr"][1]
    assert batches(project, "store", "products") == [("written", 20), ("duplicate", 20)]
    # The API sends carts dated on or after the cursor: the newest old cart comes again.
    assert store_api["cursor"] == "2020-03-02T00:00:00.000Z"
    assert batches(project, "store", "carts") == [("written", 7), ("written", 2)]
    assert changed[1] > 0
    assert batches(project, "inventory", "inventory") == [("written", n) for n in changed]
    assert sorted(c["cart_id"] for c in table(project, "trusted.carts")) == list(range(1, 9))


# -- indicators: a COVID-19 CSV download + the World Bank API -----------------------------

# COVID-19 names → World Bank names, written here independently of the example's CSV.
ALIASES = {
    "Bahamas": "Bahamas, The", "Brunei": "Brunei Darussalam", "Burma": "Myanmar",
    "Congo (Brazzaville)": "Congo, Rep.", "Congo (Kinshasa)": "Congo, Dem. Rep.",
    "Egypt": "Egypt, Arab Rep.", "Gambia": "Gambia, The", "Iran": "Iran, Islamic Rep.",
    "Korea, South": "Korea, Rep.", "Kyrgyzstan": "Kyrgyz Republic", "Laos": "Lao PDR",
    "Micronesia": "Micronesia, Fed. Sts.", "Russia": "Russian Federation",
    "Saint Kitts and Nevis": "St. Kitts and Nevis", "Saint Lucia": "St. Lucia",
    "Saint Vincent and the Grenadines": "St. Vincent and the Grenadines",
    "Slovakia": "Slovak Republic", "Somalia": "Somalia, Fed. Rep.", "Turkey": "Turkiye",
    "Syria": "Syrian Arab Republic", "US": "United States", "Venezuela": "Venezuela, RB",
    "Vietnam": "Viet Nam", "Yemen": "Yemen, Rep.",
}  # fmt: skip
UNMATCHED = {"Diamond Princess", "MS Zaandam", "Summer Olympics 2020", "Holy See", "Taiwan*"}
# The World Bank answers "value": null for years it has no figure for: a few injected.
GAPS = {("Eritrea", 2021), *(("Afghanistan", year) for year in range(2020, 2025))}
UNMATCHED_COLUMNS = columns("country reason last_day confirmed deaths")
CASES = columns(
    "country iso3 wb_name month days confirmed new_cases deaths new_deaths population "
    "population_year cases_per_million deaths_per_million confirmed_per_million"
)


def expect_indicators(covid: str, notes: dict[str, str]) -> dict[str, Any]:
    """The refined tables of indicators, from the two CSV files (less the GAPS)."""
    values: tuple[Any, ...]
    population: dict[str, dict[int, int]] = defaultdict(dict)
    codes = {}
    for r in csv.DictReader(dataset("worldbank/population.csv").read_text("utf-8").splitlines()):
        name, year = r["Country Name"], int(r["Year"])
        codes[name] = r["Country Code"]
        if 2019 <= year <= 2024 and (name, year) not in GAPS:
            population[name][year] = int(r["Value"])
    months: dict[str, dict[date, list[Any]]] = defaultdict(dict)
    for r in csv.DictReader(covid.splitlines()):
        day = date.fromisoformat(r["Date"])
        seen = months[r["Country"]].setdefault(day.replace(day=1), [0, day, 0, 0])
        seen[0] += 1  # days; then the last day's date and cumulative counts
        if day >= seen[1]:
            seen[1:] = [day, int(r["Confirmed"]), int(r["Deaths"])]
    cases, unmatched = [], []
    for country, per_month in months.items():
        if country in UNMATCHED:
            _, day, confirmed, deaths = per_month[max(per_month)]
            values = (country, notes[country], day, confirmed, deaths)
            unmatched.append(dict(zip(UNMATCHED_COLUMNS, values, strict=True)))
            continue
        name = ALIASES.get(country, country)
        years, before = population[name], (0, 0)
        assert years, f"no population for {country} (World Bank: {name})"
        for month in sorted(per_month):
            days, _, confirmed, deaths = per_month[month]
            year = min(years, key=lambda y: (abs(y - month.year), y))
            new, before = (confirmed - before[0], deaths - before[1]), (confirmed, deaths)
            values = (country, codes[name], name, month, days, confirmed, new[0], deaths, new[1])
            values += (years[year], year, *(half_up(n * 10**6, years[year]) for n in new))
            values += (half_up(confirmed * 10**6, years[year]),)
            cases.append(dict(zip(CASES, values, strict=True)))
    return {"cases_per_million": cases, "unmatched_countries": unmatched}


@pytest.fixture(scope="module")
def indicators(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two CLI runs over the same served data: the second finds nothing new."""
    project = Path(
        shutil.copytree(REPO / "examples/indicators", tmp_path_factory.mktemp("i") / "x")
    )
    replay = load_module(project / "serve.py")
    covid = dataset("covid19/countries-aggregated.csv").read_bytes()
    records = replay.worldbank_records(dataset("worldbank/population.csv").read_text("utf-8"))
    for record in records:
        if (record["country"]["value"], int(record["date"])) in GAPS:
            record["value"] = None
    with running(replay.IndicatorsServer(covid, records)) as base:
        env = {
            **LOCAL,
            "COVID_CSV_URL": base + replay.COVID_PATH,
            "WORLDBANK_API_URL": base + "/v2",
        }
        stderr = [batchlake("run", "-p", str(project), env=env).stderr for _ in range(2)]
    aliases = (project / "data/country_aliases.csv").read_text("utf-8").splitlines()
    expected = expect_indicators(
        covid.decode(), {r["country"]: r["note"] for r in csv.DictReader(aliases)}
    )
    refined = {n: table(project, f"refined.{n}") for n in list(KEYS)[7:]}
    return {
        "project": project,
        "stderr": stderr,
        "expected": [{}, expected],
        "refined": [{}, refined],
    }


def test_indicators_population_falls_back_to_the_nearest_year(indicators: dict[str, Any]) -> None:
    cases = indicators["expected"][1]["cases_per_million"]
    moved = {
        (r["country"], r["population_year"])
        for r in cases
        if r["population_year"] != r["month"].year
    }
    assert moved == {("Eritrea", 2020), ("Afghanistan", 2019)}  # 2021: a tie, the earlier wins
    assert len({r["country"] for r in cases}) == 195 - len(UNMATCHED)


def test_indicators_second_run_reads_nothing_new(indicators: dict[str, Any]) -> None:
    project, stderr = indicators["project"], indicators["stderr"]
    assert "not modified (HTTP 304)" in stderr[1] and "duplicate" in stderr[1]
    served = [("written", 6 * 265), ("duplicate", 6 * 265)]  # 2019..2024, 265 economies
    assert batches(project, "worldbank", "population") == served
    rows = [("written", 122_460), ("unchanged", 0)]
    assert batches(project, "covid", "countries_aggregated") == rows
    assert batches(project, "reference", "country_aliases") == [("written", 29), ("unchanged", 0)]
