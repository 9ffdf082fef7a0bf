from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.errors import ModelError
from batchlake.transform.models import Dag, load_models, table_references


def test_references_skip_ctes_and_table_functions() -> None:
    sql = """
    WITH recent AS (SELECT * FROM trusted.invoices WHERE invoice_date > DATE '2024-01-01')
    SELECT r.*, c.country
    FROM recent AS r
    JOIN raw.shop.customer AS c USING (customer_id)
    JOIN read_parquet('x.parquet') AS p ON TRUE
    """
    assert table_references(sql) == {"trusted.invoices", "raw.shop.customer"}


def test_recursive_cte_is_not_a_dependency() -> None:
    sql = """
    WITH RECURSIVE chain AS (
        SELECT 1 AS n UNION ALL SELECT n + 1 FROM chain WHERE n < 3
    ) SELECT * FROM chain JOIN refined.x ON TRUE
    """
    assert table_references(sql) == {"refined.x"}


@pytest.mark.parametrize("sql", ["DELETE FROM trusted.x", "SELECT 1; SELECT 2", "SELEC 1 FROM"])
def test_models_must_be_one_select(sql: str) -> None:
    with pytest.raises(ModelError):
        table_references(sql, where="models/trusted/x.sql")


def make_project(tmp_path: Path, models: dict[str, str]) -> Path:
    for name, sql in models.items():
        zone, table = name.split(".")
        path = tmp_path / "models" / zone / f"{table}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return tmp_path / "models"


def test_dag_order_and_selection(tmp_path: Path) -> None:
    models = load_models(
        make_project(
            tmp_path,
            {
                "trusted.orders": "-- Orders, typed.\nSELECT * FROM raw.shop.orders",
                "trusted.customers": "SELECT * FROM raw.shop.customers",
                "refined.revenue": "SELECT * FROM trusted.orders JOIN trusted.customers USING (id)",
                "refined.top": "SELECT * FROM refined.revenue",
            },
        )
    )
    assert models["trusted.orders"].description == "Orders, typed."
    dag = Dag.build(models, ["raw.shop.orders", "raw.shop.customers"])
    order = dag.select(None)
    assert (
        order.index("raw.shop.orders")
        < order.index("trusted.orders")
        < order.index("refined.revenue")
        < order.index("refined.top")
    )
    assert dag.select(["refined.top"]) == ["refined.top"]
    assert set(dag.select(["+refined.revenue"])) == {
        "refined.revenue",
        "trusted.orders",
        "trusted.customers",
        "raw.shop.orders",
        "raw.shop.customers",
    }
    assert set(dag.select(["trusted.orders+"])) == {
        "trusted.orders",
        "refined.revenue",
        "refined.top",
    }
    assert set(dag.select(["trusted.*"])) == {"trusted.orders", "trusted.customers"}
    with pytest.raises(ModelError, match="matches nothing"):
        dag.select(["refined.nope"])


def test_unknown_dependency_is_named_with_a_hint(tmp_path: Path) -> None:
    models = load_models(make_project(tmp_path, {"refined.x": "SELECT * FROM trusted.missing"}))
    with pytest.raises(ModelError, match=r"trusted\.missing.*models/trusted/missing\.sql"):
        Dag.build(models, [])
    models = load_models(make_project(tmp_path / "b", {"refined.y": "SELECT * FROM orders"}))
    with pytest.raises(ModelError, match="qualify"):
        Dag.build(models, [])


def test_cycle_is_reported(tmp_path: Path) -> None:
    models = load_models(
        make_project(
            tmp_path,
            {"trusted.a": "SELECT * FROM trusted.b", "trusted.b": "SELECT * FROM trusted.a"},
        )
    )
    with pytest.raises(ModelError, match="cycle"):
        Dag.build(models, [])
