"""The default segmentation method against the exhaustive fit, on real and generated Chinook.

The reference is the exhaustive fit (`method="exhaustive"`: KMeans with `n_init` starts
over every customer for every k, scikit-learn's silhouette per k). The default method
must choose the same k, find the same segments (adjusted Rand index >= 0.95) and reach
the same silhouette within 1%, both recomputed here by scikit-learn from the segments
written. Real Chinook (59 customers) comes from its SQLite file through the independent
oracle; the generated store (400,000 invoices: 57,142 customers, 51,769 with purchases,
above the 50,000 where the method starts to screen) goes through the pipeline up to
refined.customer_features. The 200,000- and 2,000,000-invoice comparisons are printed by
bench/segmentation.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pytest

from batchlake.analytics import clustering
from batchlake.analytics.segmentation import FEATURES, segment_customers
from tests.conftest import dataset
from tests.support.cli import batchlake

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 42


@contextmanager
def one_thread() -> Iterator[None]:
    """The reference on one thread: as fast as two on a shared machine, and repeatable."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def real_chinook_features() -> pa.Table:
    from tests.support.oracle.chinook import refined_tables

    rows = refined_tables(dataset("chinook/chinook.sqlite"))["customer_features"]
    columns = {"customer_id": pa.array([r["customer_id"] for r in rows], pa.int64())}
    for name in FEATURES:
        columns[name] = pa.array([None if r[name] is None else float(r[name]) for r in rows])
    return pa.table(columns)


@pytest.fixture(scope="module")
def generated_features(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    from batchlake.demo.generator import generate
    from batchlake.lake import Lake

    project = tmp_path_factory.mktemp("segmentation-quality") / "lake"
    batchlake("init", "--example", "chinook", str(project))
    (project / "data").mkdir(exist_ok=True)
    generate(project / "data" / "chinook.sqlite", invoices=400_000, seed=42)
    batchlake("run", "-p", str(project), "--select", "+refined.customer_features")
    columns = ", ".join(("customer_id", *FEATURES))
    return Lake.open(project).query_table(f"SELECT {columns} FROM refined.customer_features")


def compare(customers: pa.Table) -> dict[str, float]:
    """Chosen k, ARI and silhouettes of both methods, recomputed from the written segments."""
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    with one_thread():
        reference = segment_customers(customers, seed=SEED, method="exhaustive")
    result = segment_customers(customers, seed=SEED)
    segments = {
        name: tables["segments"].filter(pa.compute.field("segment") > 0).sort_by("customer_id")
        for name, tables in (("exhaustive", reference), ("default", result))
    }
    matrix = np.column_stack(
        [segments["default"].column(c).cast(pa.float64()).to_numpy() for c in FEATURES]
    )
    scaled = (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)
    sample = clustering.SILHOUETTE_SAMPLE if len(scaled) > clustering.SILHOUETTE_SAMPLE else None
    labels = {name: np.asarray(t.column("segment").to_pylist()) for name, t in segments.items()}
    score = {
        name: float(silhouette_score(scaled, labels[name], sample_size=sample, random_state=SEED))
        for name in labels
    }
    chosen = {
        name: next(m["k"] for m in tables["metrics"].to_pylist() if m["chosen"])
        for name, tables in (("exhaustive", reference), ("default", result))
    }
    assert chosen["default"] == len(np.unique(labels["default"]))
    return {
        "k": chosen["exhaustive"],
        "k_default": chosen["default"],
        "ari": float(adjusted_rand_score(labels["exhaustive"], labels["default"])),
        "silhouette": score["exhaustive"],
        "silhouette_default": score["default"],
    }


def assert_same_quality(figures: dict[str, float]) -> None:
    assert figures["k_default"] == figures["k"]
    assert figures["ari"] >= 0.95
    assert figures["silhouette_default"] == pytest.approx(figures["silhouette"], rel=0.01)


def test_real_chinook_gets_the_exhaustive_segments() -> None:
    figures = compare(real_chinook_features())
    assert figures["k"] == 2  # docs/scale-out.md: real Chinook, chosen k 2
    assert_same_quality(figures)


def test_a_400000_invoice_store_gets_the_exhaustive_segments(
    generated_features: pa.Table,
) -> None:
    usable = generated_features.drop_null().num_rows
    assert clustering.screens(usable), "the store must be large enough to be screened"
    figures = compare(generated_features)
    print(f"\n400,000 invoices, {usable:,} customers segmented: {figures}", file=sys.stderr)
    assert_same_quality(figures)
