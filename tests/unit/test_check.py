"""`batchlake check`: problems found without data, each naming its file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.demo.scaffold import create_project
from batchlake.transform.check import check_project

_PROJECT = """\
name = "shop"
[storage]
root = "lake"
[sources.shop]
type = "sql"
url = "sqlite:///data/shop.sqlite"
"""


@pytest.fixture
def chinook(tmp_path: Path) -> Path:
    root = tmp_path / "chinook"
    create_project(root, example="chinook")
    return root


def _shop(tmp_path: Path, models: dict[str, str], schemas: str = "") -> Path:
    """A small project: one SQL source, the given model files, an optional schemas.toml."""
    root = tmp_path / "shop"
    root.mkdir(parents=True)
    (root / "batchlake.toml").write_text(_PROJECT)
    if schemas:
        (root / "schemas.toml").write_text(schemas)
    for relative, text in models.items():
        path = root / "models" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


_ORDERS = '["raw.shop.orders"]\norder_id = "BIGINT"\namount = "{amount}"\n_batch_id = "VARCHAR"\n'


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_chinook_example_checks_clean_and_compiles_every_model(chinook: Path) -> None:
    result = check_project(chinook)
    assert result.problems == [] and result.notes == []
    sql_files = sorted(chinook.glob("models/*/*.sql"))
    assert len(sql_files) == 21
    assert sorted(result.compiled) == sorted(f"{p.parent.name}.{p.stem}" for p in sql_files)
    # the columns a downstream model sees are those its upstream model computes
    assert ("avg_ticket", "DECIMAL(18,2)") in result.columns["refined.sales_by_day"]
    assert ("sale_date", "DATE") in result.columns["trusted.sales"]


def test_check_reads_no_data_and_writes_nothing(chinook: Path) -> None:
    before = sorted(p.relative_to(chinook) for p in chinook.rglob("*"))
    assert check_project(chinook).ok
    assert sorted(p.relative_to(chinook) for p in chinook.rglob("*")) == before
    assert not (chinook / "data").exists()  # the source database is not even there


def test_a_wrong_column_names_the_model_and_the_columns_there_are(chinook: Path) -> None:
    _edit(chinook / "models/trusted/invoices.sql", "CAST(total AS", "CAST(totl AS")
    result = check_project(chinook)
    assert [p.where for p in result.problems] == ["models/trusted/invoices.sql"]
    message = result.problems[0].message
    assert '"totl" not found' in message
    assert "Columns of its inputs: raw.chinook.invoice (invoice_id, customer_id" in message
    # what reads trusted.invoices could not be compiled; nothing else is reported for it
    assert "trusted.invoices" not in result.compiled and "trusted.sales" not in result.compiled
    assert "trusted.tracks" in result.compiled


def test_a_type_error_fails_with_the_types_involved(chinook: Path) -> None:
    _edit(
        chinook / "models/refined/sales_by_month.sql",
        "sum(tracks_sold) AS BIGINT",
        "sum(upper(tracks_sold)) AS BIGINT",
    )
    result = check_project(chinook)
    assert [p.where for p in result.problems] == ["models/refined/sales_by_month.sql"]
    assert "upper(BIGINT)" in result.problems[0].message
    assert "upper(VARCHAR)" in result.problems[0].message  # the candidates


def test_raw_types_come_from_schemas_toml(tmp_path: Path) -> None:
    model = {"refined/totals.sql": "SELECT sum(amount) AS total FROM raw.shop.orders"}
    root = _shop(tmp_path, model, _ORDERS.format(amount="VARCHAR"))
    result = check_project(root)
    assert [p.where for p in result.problems] == ["models/refined/totals.sql"]
    assert "sum(VARCHAR)" in result.problems[0].message
    (root / "schemas.toml").write_text(_ORDERS.format(amount="DECIMAL(10,2)"))
    result = check_project(root)
    assert result.ok, result.problems
    assert result.columns["refined.totals"] == [("total", "DECIMAL(38,2)")]


def test_result_types_are_those_written_to_iceberg(tmp_path: Path) -> None:
    """A sum of integers is HUGEINT in DuckDB and DECIMAL(38,0) once written: downstream
    models are compiled against the written type."""
    models = {
        "trusted/totals.sql": (
            "SELECT sum(order_id) AS ids, CAST(1 AS TINYINT) AS t FROM raw.shop.orders"
        ),
        "refined/ids.sql": "SELECT ids, t FROM trusted.totals",
    }
    result = check_project(_shop(tmp_path, models, _ORDERS.format(amount="DOUBLE")))
    assert result.ok, result.problems
    assert result.columns["refined.ids"] == [("ids", "DECIMAL(38,0)"), ("t", "INTEGER")]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    models = {
        "trusted/broken.sql": "SELEC oops FROM",
        "trusted/a.sql": "SELECT * FROM trusted.b",
        "trusted/b.sql": "SELECT * FROM trusted.a",
        "refined/typo.sql": "SELECT * FROM trusted.ordres",
        "refined/nosource.sql": "SELECT * FROM raw.crm.people",
        "refined/bare.sql": "SELECT * FROM orders",
    }
    result = check_project(_shop(tmp_path, models))
    found = {p.where: p.message for p in result.problems}
    assert "does not parse" in found["models/trusted/broken.sql"]
    assert "add models/trusted/ordres.sql or fix the name" in found["models/refined/typo.sql"]
    assert "no source 'crm'" in found["models/refined/nosource.sql"]
    assert "(sources: shop)" in found["models/refined/nosource.sql"]
    assert (
        "trusted.<name>, refined.<name> or raw.<source>.<entity>"
        in found["models/refined/bare.sql"]
    )
    assert "cycle" in found["models/"] and "trusted.a" in found["models/"]


def test_a_raw_entity_missing_from_schemas_toml_is_a_typo_or_a_note(tmp_path: Path) -> None:
    models = {"refined/x.sql": "SELECT * FROM raw.shop.ordrs"}
    result = check_project(_shop(tmp_path, models, _ORDERS.format(amount="DOUBLE")))
    assert "entities of shop: orders" in result.problems[0].message
    # no schema declared for the source at all: the model is parsed but not compiled
    result = check_project(
        _shop(tmp_path / "none", {"refined/x.sql": "SELECT 1 AS x FROM raw.shop.o"})
    )
    assert result.ok and result.compiled == []
    assert [n.where for n in result.notes] == ["raw.shop.o"]


def test_kind_checks_and_stray_files_name_columns_that_are_not_there(chinook: Path) -> None:
    (chinook / "models/trusted/invoices.toml").write_text(
        'kind = "incremental_by_key"\nunique_key = ["invoice_idx"]\n'
    )
    _edit(chinook / "models/trusted/invoices.checks.toml", '"invoice_id"', '"invoice_nr"')
    (chinook / "models/refined/sales_by_dya.tests.toml").write_text("")
    found = {p.where: p.message for p in check_project(chinook).problems}
    assert (
        "names column 'invoice_idx', which trusted.invoices does not have"
        in found["models/trusted/invoices.toml"]
    )
    assert "'invoice_nr'" in found["models/trusted/invoices.checks.toml"]
    assert "no model refined/sales_by_dya.sql" in found["models/refined/sales_by_dya.tests.toml"]


def test_a_wrong_schemas_toml_or_project_file_is_a_problem(tmp_path: Path) -> None:
    root = _shop(tmp_path, {}, '["raw.shop.orders"]\nid = "BIGINTEGRAL"\n')
    (problem,) = check_project(root).problems
    assert problem.where == "schemas.toml" and "is not a DuckDB type" in problem.message
    (root / "batchlake.toml").write_text('name = "shop"\n[storage]\nrooot = "lake"\n')
    (problem,) = check_project(root).problems
    assert problem.where == "batchlake.toml" and "rooot" in problem.message


def test_unset_variables_do_not_fail_the_check_of_a_pull_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI checks pull requests without secrets: a variable without a default is noted."""
    monkeypatch.delenv("SHOP_PASSWORD", raising=False)
    root = _shop(tmp_path, {"refined/x.sql": "SELECT sum(amount) AS s FROM raw.shop.orders"})
    (root / "schemas.toml").write_text(_ORDERS.format(amount="DOUBLE"))
    text = (root / "batchlake.toml").read_text()
    (root / "batchlake.toml").write_text(
        text.replace('"sqlite:///data/shop.sqlite"', '"postgresql://etl:${SHOP_PASSWORD}@db/shop"')
    )
    result = check_project(root)
    assert result.ok and result.compiled == ["refined.x"]
    assert [str(n) for n in result.notes] == [
        "batchlake.toml: checked with placeholders for the unset variables SHOP_PASSWORD "
        "(nothing is connected to)"
    ]
