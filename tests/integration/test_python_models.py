"""Python steps (python/*.py) in a real project: DAG order, commits, skips, error paths."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from batchlake.errors import ConfigError, ModelError
from batchlake.lake import Lake
from batchlake.run.runner import Runner, RunResult
from batchlake.transform.models import Dag, load_python_models, project_models
from tests.conftest import require_java
from tests.support.cli import batchlake

STEP = """
import pyarrow as pa
import pyarrow.compute as pc

from batchlake import step

FACTOR = 2


@step(inputs=["refined.numbers"], outputs=["refined.doubled", "refined.stats"])
def double(ctx):
    numbers = ctx.table("refined.numbers")
    doubled = pa.table({"n": numbers["n"], "twice": pc.multiply(numbers["n"], FACTOR)})
    stats = pa.table({"rows": [numbers.num_rows], "label": [ctx.params.get("label", "none")]})
    return {"refined.doubled": doubled, "refined.stats": stats}
"""


def make_project(root: Path, step: str = STEP, config: str = "") -> Path:
    (root / "models" / "refined").mkdir(parents=True)
    (root / "python").mkdir()
    (root / "batchlake.toml").write_text(f'name = "pysteps"\n{config}')
    (root / "models" / "refined" / "numbers.sql").write_text("SELECT range AS n FROM range(10)")
    # A SQL model downstream of the Python step.
    (root / "models" / "refined" / "after.sql").write_text(
        "SELECT sum(twice) AS total FROM refined.doubled"
    )
    (root / "python" / "double.py").write_text(textwrap.dedent(step))
    return root


def run(root: Path, select: list[str] | None = None) -> RunResult:
    return Runner(Lake.open(root)).run(select)


def statuses(result: RunResult) -> dict[str, str]:
    return {s.name: s.status for s in result.steps}


def rows(root: Path, table: str) -> list[dict[str, object]]:
    return Lake.open(root).query_table(f"SELECT * FROM {table} ORDER BY ALL").to_pylist()


def test_step_runs_in_dag_order_and_commits_its_outputs(tmp_path: Path) -> None:
    root = make_project(tmp_path, config='[python.double]\nlabel = "hello"\n')
    result = run(root)
    assert result.ok, result.steps
    names = [s.name for s in result.steps]
    assert (
        names.index("refined.numbers") < names.index("python.double") < names.index("refined.after")
    )
    assert rows(root, "refined.doubled") == [{"n": n, "twice": 2 * n} for n in range(10)]
    assert rows(root, "refined.stats") == [{"rows": 10, "label": "hello"}]
    assert rows(root, "refined.after") == [{"total": 2 * sum(range(10))}]
    info = Lake.open(root).catalog.info("refined.doubled")
    assert info.upstream == ["refined.numbers"]
    assert info.properties["batchlake.python-step"] == "python/double.py:double"
    assert Lake.open(root).catalog.info("refined.after").upstream == ["refined.doubled"]


def test_rerun_skips_and_unchanged_result_adds_no_snapshot(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    run(root)
    lake = Lake.open(root)
    before = {t: lake.catalog.info(t).snapshot_id for t in ("refined.doubled", "refined.stats")}
    again = run(root)
    step = next(s for s in again.steps if s.name == "python.double")
    assert (step.status, step.message) == ("unchanged", "inputs unchanged")
    # Editing the source reruns the step; the same rows give no new snapshot.
    path = root / "python" / "double.py"
    path.write_text(path.read_text() + "\n# a comment\n")
    edited = next(s for s in run(root).steps if s.name == "python.double")
    assert edited.status == "unchanged" and "rows, unchanged" in (edited.message or "")
    assert {t: lake.catalog.info(t).snapshot_id for t in before} == before
    # A real change commits a new snapshot of the changed output only.
    path.write_text(path.read_text().replace("FACTOR = 2", "FACTOR = 3"))
    changed = next(s for s in run(root).steps if s.name == "python.double")
    assert changed.status == "success"
    assert lake.catalog.info("refined.doubled").snapshot_id != before["refined.doubled"]
    assert lake.catalog.info("refined.stats").snapshot_id == before["refined.stats"]
    assert rows(root, "refined.after") == [{"total": 3 * sum(range(10))}]


def test_parameters_are_part_of_the_inputs(tmp_path: Path) -> None:
    root = make_project(tmp_path, config='[python.double]\nlabel = "a"\n')
    run(root)
    (root / "batchlake.toml").write_text('name = "pysteps"\n[python.double]\nlabel = "b"\n')
    result = run(root, ["refined.stats"])
    assert statuses(result) == {"python.double": "success"}
    assert rows(root, "refined.stats") == [{"rows": 10, "label": "b"}]


def test_parameters_of_an_unknown_step_are_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path, config="[python.doubel]\nlabel = 'x'\n")
    with pytest.raises(ConfigError, match=r"\[python\.doubel\] in batchlake\.toml names no"):
        run(root)


def test_select_by_output_name_and_downstream(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    lake = Lake.open(root)
    dag = Runner(lake).build_dag()
    assert dag.select(["refined.stats"]) == ["python.double"]
    assert dag.select(["refined.doubled+"]) == ["python.double", "refined.after"]
    assert dag.select(["+refined.after"]) == ["refined.numbers", "python.double", "refined.after"]
    assert set(dag.select(["refined.s*"])) == {"python.double"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "raise ValueError('bad numbers')",
            "python/double.py:double raised ValueError: bad numbers",
        ),
        (
            "return [{'n': 1}]",
            "python/double.py:double returned list; return a dict of {table name: pyarrow.Table}",
        ),
        (
            "return {'refined.doubled': pa.table({'n': [1]})}",
            "python/double.py:double did not return refined.stats",
        ),
        (
            "return {'refined.doubled': {'n': [1]}, 'refined.stats': pa.table({'n': [1]})}",
            "python/double.py:double returned dict for refined.doubled; return a pyarrow.Table",
        ),
        (
            "ctx.table('refined.after')",
            "step double reads refined.after, which is not in its inputs",
        ),
        (
            "ctx.dataframe('refined.numbers')",
            "step double asked for refined.numbers as a Spark DataFrame, but it runs on "
            "duckdb; use ctx.table('refined.numbers')",
        ),
    ],
)
def test_step_errors_name_the_file_and_function(tmp_path: Path, body: str, expected: str) -> None:
    step = f"""
    import pyarrow as pa
    from batchlake import step

    @step(inputs=["refined.numbers"], outputs=["refined.doubled", "refined.stats"])
    def double(ctx):
        {body}
    """
    root = make_project(tmp_path, step=step)
    result = run(root)
    assert statuses(result) == {
        "refined.numbers": "success",
        "python.double": "failed",
        "refined.after": "upstream_failed",
    }
    failed = next(s for s in result.steps if s.status == "failed")
    assert (failed.message or "").startswith(expected), failed.message
    assert not Lake.open(root).catalog.exists("refined.doubled")  # nothing half-committed


def test_cli_prints_one_line_for_a_failing_step(tmp_path: Path) -> None:
    step = STEP.replace(
        "doubled = pa.table", "raise RuntimeError('no luck')\n    doubled = pa.table"
    )
    root = make_project(tmp_path, step=step)
    out = batchlake("run", "-p", str(root), check=False)
    assert out.returncode == 1
    assert "python.double: python/double.py:double raised RuntimeError: no luck" in out.stderr
    assert "Traceback" not in out.stderr
    # The traceback is kept in the run's record, for `batchlake runs RUN_ID`.
    lake = Lake.open(root)
    steps = lake.metadata.steps(lake.metadata.runs(1)[0]["run_id"])
    step_row = next(s for s in steps if s["step"] == "python.double")
    assert "\n" not in step_row["message"] and "no luck" in step_row["message"]
    assert "Traceback" in step_row["traceback"] and "RuntimeError: no luck" in step_row["traceback"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", "python/bad.py cannot be loaded: SyntaxError"),
        (
            "from batchlake import step\n@step(inputs=[], outputs=['numbers'])\ndef f(ctx): ...",
            "python/bad.py:f: output 'numbers' must be named <zone>.<table>",
        ),
        (
            "from batchlake import step\n@step(inputs=[], outputs=[])\ndef f(ctx): ...",
            "python/bad.py:f: declare at least one output table",
        ),
        (
            "from batchlake import step\n@step(inputs=[], outputs=['refined.doubled'])\n"
            "def f(ctx): ...",
            "python/double.py:double and python/bad.py:f both write refined.doubled",
        ),
    ],
)
def test_bad_declarations_are_named(tmp_path: Path, source: str, expected: str) -> None:
    root = make_project(tmp_path)
    (root / "python" / "bad.py").write_text(source)
    with pytest.raises(ModelError) as caught:
        load_python_models(root / "python")
    assert str(caught.value).startswith(expected), str(caught.value)


def test_output_also_built_by_sql_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "models" / "refined" / "stats.sql").write_text("SELECT 1 AS x")
    with pytest.raises(ModelError, match=r"writes refined\.stats, which a SQL model also builds"):
        Dag.build(project_models(Lake.open(root).project), [])


def test_iceberg_unfriendly_types_are_widened(tmp_path: Path) -> None:
    step = """
    import pyarrow as pa
    from batchlake import step

    @step(inputs=[], outputs=["refined.typed"])
    def typed(ctx):
        return {"refined.typed": pa.table({
            "small": pa.array([1, 2], pa.int8()),
            "unsigned": pa.array([3, 4], pa.uint32()),
            "when": pa.array([1, 2], pa.timestamp("ns")),
            "text": pa.array(["a", "b"], pa.large_string()),
        })}
    """
    root = make_project(tmp_path)
    (root / "python" / "typed.py").write_text(textwrap.dedent(step))
    result = run(root, ["refined.typed"])
    assert result.ok, result.steps
    schema = Lake.open(root).query_table("SELECT * FROM refined.typed").schema
    assert schema.field("small").type == pa.int32()
    assert schema.field("unsigned").type == pa.int64()
    assert schema.field("when").type == pa.timestamp("us")
    assert rows(root, "refined.typed")[0]["unsigned"] == 3


# -- on Spark --------------------------------------------------------------------------------

SPARK_STEP = """
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from batchlake import step


@step(inputs=["refined.numbers"], outputs=["refined.doubled", "refined.stats"])
def double(ctx):
    numbers = ctx.dataframe("refined.numbers")
    doubled = numbers.select("n", (F.col("n") * 2).alias("twice"))  # stays on Spark
    kind = f"{type(numbers).__module__}.{type(numbers).__name__}"
    stats = pa.table({"rows": [numbers.count()], "label": [kind], "engine": [ctx.engine]})
    return {"refined.doubled": doubled, "refined.stats": stats}
"""

ARROW_STEP = """
import pyarrow as pa
import pyarrow.compute as pc

from batchlake import step


@step(inputs=["refined.numbers"], outputs=["refined.doubled"])
def double(ctx):
    numbers = ctx.table("refined.numbers").sort_by([("n", "descending")])  # order: no matter
    twice = pc.multiply(numbers["n"], pa.scalar(2, pa.int32()))  # INT, as Spark's n * 2
    return {"refined.doubled": pa.table({"twice": twice, "n": numbers["n"]}).select(["n", "twice"])}
"""

# range() is DuckDB's; VALUES reads the same on both engines.
NUMBERS = "SELECT n FROM (VALUES {}) AS t(n)".format(", ".join(f"({n})" for n in range(10)))

SPARK_CONFIG = (
    '[engine]\ntype = "spark"\nmaster = "local[2]"\n'
    'conf = { "spark.sql.shuffle.partitions" = "2" }\n'
)


def test_a_step_on_spark_gets_and_returns_spark_dataframes(tmp_path: Path) -> None:
    from pyspark.sql import DataFrame

    from batchlake.catalog import PROP_CONTENT

    require_java()
    root = make_project(tmp_path / "spark", step=SPARK_STEP, config=SPARK_CONFIG)
    (root / "models" / "refined" / "numbers.sql").write_text(NUMBERS)
    result = run(root)
    assert result.ok, [(s.name, s.message) for s in result.steps]
    assert next(s for s in result.steps if s.name == "python.double").engine == "spark"
    [stats] = rows(root, "refined.stats")
    received = stats["label"].rsplit(".", 1)
    frame_class = getattr(__import__(received[0], fromlist=[received[1]]), received[1])
    assert issubclass(frame_class, DataFrame)
    assert (stats["rows"], stats["engine"]) == (10, "spark")
    # The DataFrame Spark wrote, read back by DuckDB: n and 2n for n in 0..9.
    assert rows(root, "refined.doubled") == [{"n": n, "twice": 2 * n} for n in range(10)]
    assert rows(root, "refined.after") == [{"total": 2 * sum(range(10))}]
    # The same rows returned as Arrow on DuckDB have the same content hash.
    arrow = make_project(tmp_path / "duckdb", step=ARROW_STEP)
    (arrow / "models" / "refined" / "numbers.sql").write_text(NUMBERS)
    assert run(arrow, ["+refined.doubled"]).ok
    spark_hash = Lake.open(root).catalog.info("refined.doubled").properties[PROP_CONTENT]
    arrow_hash = Lake.open(arrow).catalog.info("refined.doubled").properties[PROP_CONTENT]
    assert spark_hash == arrow_hash
    # Rerun with changed code but equal rows: no new snapshot.
    lake = Lake.open(root)
    before = lake.catalog.info("refined.doubled").snapshot_id
    path = root / "python" / "double.py"
    path.write_text(path.read_text() + "\n# a comment\n")
    again = next(s for s in run(root).steps if s.name == "python.double")
    assert "refined.doubled: 10 rows, unchanged" in (again.message or "")
    assert lake.catalog.info("refined.doubled").snapshot_id == before


def test_a_spark_dataframe_on_duckdb_is_refused(tmp_path: Path) -> None:
    require_java()
    step = """
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from batchlake import step


    @step(inputs=["refined.numbers"], outputs=["refined.doubled", "refined.stats"])
    def double(ctx):
        frame = SparkSession.builder.master("local[2]").getOrCreate().range(3)
        return {"refined.doubled": frame, "refined.stats": pa.table({"n": [1]})}
    """
    root = make_project(tmp_path, step=step)
    failed = next(s for s in run(root).steps if s.name == "python.double")
    assert failed.status == "failed"
    assert (failed.message or "").startswith(
        "python/double.py:double returned a Spark DataFrame for refined.doubled on engine "
        "duckdb; return a pyarrow.Table (DataFrame.toArrow() converts one)"
    ), failed.message
