"""The Chinook pipeline on a real Spark standalone cluster, equal to DuckDB's tables.

A master and two workers are started from the pyspark distribution's own launcher classes
(`java -cp <pyspark>/jars/* org.apache.spark.deploy.master.Master`, `...worker.Worker`),
each a JVM of its own on 127.0.0.1, one core and 1 GiB each; the driver is this test's
process (`[engine] master = "spark://127.0.0.1:PORT"`), and the executors are processes
the workers launch. So the driver, the two executors and their Python workers are
separate processes, which `local[2]` (one JVM) never exercises.

What separate processes needed (docs/scale-out.md, "A standalone cluster"):
- workers started from pip's pyspark need SPARK_HOME=<pyspark package> and
  SPARK_SCALA_VERSION in their environment, else every executor fails to launch
  ("Cannot find any build directories") and the driver sees its application killed;
- the driver must be reachable from the executors (`spark.driver.host`), and the Python
  the executors run is named by `spark.pyspark.python` in [engine] conf (batchlake
  applies it to the in-process session, which PySpark alone would not) or the driver's
  PYSPARK_PYTHON: a Python with pyspark and numpy at that path on every worker;
- the lake must be on storage every executor reaches at the same path: here a local
  folder (all processes on one machine); across machines, S3 — which Spark reaches only
  through hadoop-aws (s3a), not shipped with pyspark and not obtainable on this machine,
  so the S3 case is checked for its failure message (and runs the whole comparison when
  BATCHLAKE_SPARK_S3A_JARS names a folder holding hadoop-aws and its AWS SDK bundle).

The Python steps' KMeans search is narrowed (k 2..3, 2 starts) on both engines so the
test fits CI's time; a run with the full search is measured in docs/scale-out.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from batchlake.lake import Lake
from batchlake.run.runner import Runner
from tests.conftest import require_java
from tests.integration.test_engine_parity import _assert_identical, _assert_segmentation_agrees
from tests.support.scale_helpers import (
    CREDENTIALS,
    S3Server,
    chinook_project,
    generated_source,
    moto_server,
    storage_block,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 2
SEGMENTS = "[python.customer_segments]\nk_min = 2\nk_max = 3\nseed = 42\nn_init = 2\n"
S3A_JARS = "BATCHLAKE_SPARK_S3A_JARS"


@dataclass
class Cluster:
    master_url: str
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _scala_version(home: Path) -> str:
    jar = next((home / "jars").glob("scala-library-*.jar"))
    found = re.search(r"scala-library-(\d+\.\d+)\.", jar.name)
    assert found, jar.name
    return found.group(1)


def _wait_for(log: Path, pattern: str, process: subprocess.Popen[bytes], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found.group(0)
        if process.poll() is not None:
            break
        time.sleep(0.25)
    raise AssertionError(f"{log.name}: no '{pattern}' in {seconds}s:\n{log.read_text()[-3000:]}")


@contextmanager
def standalone_cluster(logs: Path, workers: int = WORKERS) -> Iterator[Cluster]:
    """A standalone master and `workers` workers (1 core, 1 GiB each) on 127.0.0.1.

    Started from pyspark's own jars with the JVM on PATH (or JAVA_HOME), logs and work
    folders under `logs`; every process is stopped on exit (SIGTERM, then SIGKILL).
    """
    home = _spark_home()
    java = (
        str(Path(os.environ["JAVA_HOME"], "bin", "java")) if "JAVA_HOME" in os.environ else "java"
    )
    env = dict(
        os.environ,
        SPARK_HOME=str(home),
        SPARK_SCALA_VERSION=_scala_version(home),
        SPARK_LOCAL_IP="127.0.0.1",
    )
    running = Cluster("", logs)

    def launch(name: str, main: str, *args: str) -> subprocess.Popen[bytes]:
        with (logs / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                [java, "-Xmx512m", "-cp", f"{home}/jars/*", main, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=logs,
            )
        running.processes.append(process)
        return process

    try:
        master = launch(
            "master",
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", "0", "--webui-port", "0"),
        )
        line = _wait_for(logs / "master.log", r"Starting Spark master at spark://\S+", master, 120)
        running.master_url = line.rsplit(" ", 1)[1]
        for i in range(workers):
            work = logs / f"worker-{i}"
            work.mkdir()
            worker = launch(
                f"worker-{i}",
                "org.apache.spark.deploy.worker.Worker",
                *("--host", "127.0.0.1", "--cores", "1", "--memory", "1g"),
                *("--webui-port", "0", "--work-dir", str(work), running.master_url),
            )
            _wait_for(logs / f"worker-{i}.log", "Successfully registered with master", worker, 120)
        yield running
    finally:
        from batchlake.engines.spark import stop_session

        stop_session()
        for process in reversed(running.processes):
            process.terminate()
        for process in running.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_java()
    from batchlake.engines.spark import stop_session

    stop_session()  # an earlier test's local[2] session must not serve the cluster's lake
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster")) as running:
        yield running


def cluster_engine(master_url: str, jars: list[str] | None = None) -> str:
    """The `[engine]` table of a project whose models run on the standalone cluster."""
    conf = {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.executor.memory": "768m",
        "spark.executor.cores": "1",
        "spark.cores.max": str(WORKERS),
        "spark.sql.shuffle.partitions": "2",
        # The executors' Python (else `python3` on the workers' PATH, without pyiceberg).
        "spark.pyspark.python": sys.executable,
    }
    if jars:
        conf["spark.jars"] = ",".join(jars)
    rendered = ", ".join(f'"{k}" = "{v}"' for k, v in conf.items())
    return f'[engine]\ntype = "spark"\nmaster = "{master_url}"\nconf = {{ {rendered} }}\n'


def _build(project: Path) -> tuple[Lake, float]:
    started = time.perf_counter()
    lake = Lake.open(project)
    result = Runner(lake).run()
    failed = [(s.name, s.message) for s in result.steps if s.status != "success"]
    assert result.ok, f"{lake.settings.engine.type} run failed: {failed[:3]}"
    return lake, time.perf_counter() - started


@pytest.fixture(scope="module")
def lakes(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Lake, Lake]]:
    base = tmp_path_factory.mktemp("cluster-chinook")
    source = generated_source(base, invoices=300, seed=7)
    duck, duck_seconds = _build(
        chinook_project(base / "duckdb", source, extra={"python.customer_segments": SEGMENTS})
    )
    spark_project = chinook_project(
        base / "spark",
        source,
        extra={"engine": cluster_engine(cluster.master_url), "python.customer_segments": SEGMENTS},
    )
    spark, spark_seconds = _build(spark_project)
    print(
        f"\nChinook on DuckDB {duck_seconds:.1f} s; on the standalone cluster {spark_seconds:.1f} s"
    )
    yield duck, spark


def test_the_models_ran_on_the_cluster_executors(
    cluster: Cluster, lakes: tuple[Lake, Lake]
) -> None:
    from batchlake.engines.spark import spark_session

    _, spark_lake = lakes
    session = spark_session(spark_lake.settings.engine)
    context = session.sparkContext
    assert context.master == cluster.master_url
    # Two executors besides the driver, each a JVM its worker launched.
    executors = context._jsc.sc().getExecutorMemoryStatus().size() - 1
    assert executors == WORKERS
    launched = sorted(cluster.logs.glob("worker-*/app-*/*/stderr"))
    assert len({p.parent.parent.parent.name for p in launched}) == WORKERS, launched
    # Python code runs in the executors' Python workers, not in the driver's process.
    pids = context.parallelize(range(8), 4).map(lambda _: (os.getpid(), sys.executable))
    seen = set(pids.collect())
    assert os.getpid() not in {pid for pid, _ in seen}
    assert {python for _, python in seen} == {sys.executable}


def test_chinook_on_the_cluster_equals_duckdb(lakes: tuple[Lake, Lake]) -> None:
    duck, spark = lakes
    assert spark.settings.engine.master.startswith("spark://")
    _assert_segmentation_agrees(duck, spark)
    _assert_identical(duck, spark)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with moto_server() as server:
        server.create_bucket("cluster-lake")
        yield server


def test_a_lake_on_s3_needs_hadoop_aws_on_the_cluster(
    cluster: Cluster, lakes: tuple[Lake, Lake], s3: S3Server, tmp_path: Path
) -> None:
    """Without hadoop-aws the models fail with the fix named; with it, the same tables."""
    from batchlake.engines.spark import stop_session

    duck, _ = lakes
    stop_session()  # a new application, with this project's S3 settings (and jars)
    jars_dir = os.environ.get(S3A_JARS)
    jars = sorted(str(p) for p in Path(jars_dir).glob("*.jar")) if jars_dir else None
    source = generated_source(tmp_path, invoices=300, seed=7)
    project = chinook_project(
        tmp_path / "s3",
        source,
        storage=storage_block(s3.endpoint, "s3://cluster-lake/chinook"),
        extra={
            "engine": cluster_engine(cluster.master_url, jars),
            "python.customer_segments": SEGMENTS,
        },
    )
    lake = Lake.open(project)
    result = Runner(lake).run()
    captures = [s for s in result.steps if s.name.startswith("raw.")]
    assert captures and all(s.status == "success" for s in captures)
    assert [k for k in s3.keys("cluster-lake", "chinook/raw/") if k.endswith(".parquet")]
    if jars:
        assert result.ok, [(s.name, s.message) for s in result.steps if s.status != "success"]
        _assert_identical(duck, lake)
        return
    failed = [s for s in result.steps if s.status == "failed"]
    assert failed, "the Spark models read s3:// without hadoop-aws"
    for step in failed:
        assert "hadoop-aws is not on its classpath" in (step.message or ""), step.message
