"""The MLlib segmentation backend gives scikit-learn's segments, fitted on Spark.

Both backends run on the same customers; scikit-learn's results (and its metrics, an
independent implementation: `adjusted_rand_score`, `silhouette_score`, `PCA`) are the
reference. On well separated blobs the partition must be the truth; on overlapping data,
where KMeans has several local optima, it must still be scikit-learn's for every k.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from batchlake.analytics.segmentation import FEATURES, segment_customers, sklearn_backend
from batchlake.errors import ModelError
from tests.conftest import require_java
from tests.unit.test_analytics import blobs, features_of, standardise

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    require_java()
    from batchlake.config import EngineSettings
    from batchlake.engines.spark import spark_session

    settings = EngineSettings.model_validate(
        {"type": "spark", "master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2"}}
    )
    yield spark_session(settings)


def test_mllib_finds_the_blobs_with_sklearns_tables(spark: object) -> None:
    from pyspark.sql import SparkSession

    assert isinstance(spark, SparkSession)
    customers, truth = blobs(per_blob=12, count=4, seed=7)
    expected = segment_customers(customers, k_min=2, k_max=5, seed=3, n_init=2)
    frame = spark.createDataFrame(customers)
    got = segment_customers(frame, k_min=2, k_max=5, seed=3, n_init=2)  # MLlib by default
    for name in ("segments", "profiles", "metrics"):
        assert got[name].equals(expected[name]), name
    chosen = [m["k"] for m in got["metrics"].to_pylist() if m["chosen"]]
    assert chosen == [4]
    segment = np.array(got["segments"].column("segment").to_pylist())
    pairs = set(zip(truth.tolist(), segment.tolist(), strict=True))
    assert len(pairs) == 4 and len({s for _, s in pairs}) == 4  # the truth, renumbered


def test_mllib_matches_sklearn_for_every_k_where_kmeans_has_local_optima(spark: object) -> None:
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    from batchlake.analytics.segmentation_spark import mllib_backend

    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(40, 5)) * [1.0, 3.0, 0.5, 2.0, 1.0]  # one blob: no true k
    ks = [2, 3, 4, 5]
    reference = sklearn_backend(matrix, ks, seed=11, n_init=3)
    got = mllib_backend(matrix, ks, seed=11, n_init=3, spark=spark)  # type: ignore[arg-type]

    scaled = standardise(matrix)
    np.testing.assert_allclose(got.scaled, scaled, atol=1e-12)
    for mine, theirs in zip(got.fits, reference.fits, strict=True):
        assert mine.k == theirs.k
        assert adjusted_rand_score(theirs.labels, mine.labels) == 1.0, mine.k
        assert mine.inertia == pytest.approx(theirs.inertia, rel=1e-9)
        assert mine.silhouette == pytest.approx(silhouette_score(scaled, mine.labels), abs=1e-9)
    # The first two principal components, signed as scikit-learn signs them.
    np.testing.assert_allclose(got.components, PCA(n_components=2).fit_transform(scaled), atol=1e-9)


def test_mllib_runs_on_the_dataframes_session_and_keeps_customers_without_features(
    spark: object,
) -> None:
    from pyspark.sql import SparkSession

    assert isinstance(spark, SparkSession)
    customers, _ = blobs(per_blob=8, count=3, seed=2)
    nulls = {name: pa.array([None], pa.float64()) for name in FEATURES}
    customers = pa.concat_tables(
        [customers, pa.table({"customer_id": pa.array([99], pa.int64()), **nulls})]
    )
    got = segment_customers(spark.createDataFrame(customers), k_max=4, seed=1, n_init=1)
    expected = segment_customers(customers, k_max=4, seed=1, n_init=1)
    assert got["segments"].equals(expected["segments"])
    by_id = {row["customer_id"]: row["segment"] for row in got["segments"].to_pylist()}
    assert by_id[99] == 0 and all(by_id[i] > 0 for i in range(1, 25))
    assert features_of(got["segments"].filter(pa.compute.field("segment") > 0)).shape == (24, 12)


def test_unknown_backend_is_named() -> None:
    customers, _ = blobs(per_blob=5, count=2)
    with pytest.raises(ModelError, match="unknown segmentation backend 'spark'; choose one of"):
        segment_customers(customers, backend="spark")


def test_large_stores_take_the_silhouette_over_the_same_sample_on_both_backends(
    spark: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above SILHOUETTE_SAMPLE customers the silhouette is sampled, as scikit-learn samples."""
    from sklearn.metrics import silhouette_score

    from batchlake.analytics import clustering
    from batchlake.analytics.segmentation_spark import mllib_backend

    monkeypatch.setattr(clustering, "SILHOUETTE_SAMPLE", 60)  # small enough to be quick
    rng = np.random.default_rng(8)
    matrix = rng.normal(size=(150, 4)) * [1.0, 2.0, 0.5, 1.5]
    reference = sklearn_backend(matrix, [2, 3], seed=4, n_init=2)
    got = mllib_backend(matrix, [2, 3], seed=4, n_init=2, spark=spark)  # type: ignore[arg-type]
    scaled = standardise(matrix)
    for mine, theirs in zip(got.fits, reference.fits, strict=True):
        # scikit-learn's own sampling (the first sample_size of a seeded permutation).
        sampled = silhouette_score(scaled, theirs.labels, sample_size=60, random_state=4)
        assert theirs.silhouette == pytest.approx(sampled, abs=1e-12)
        assert mine.silhouette == pytest.approx(sampled, abs=1e-9)
        assert mine.silhouette != pytest.approx(silhouette_score(scaled, mine.labels), abs=1e-6)


def test_screened_method_gives_the_same_tables_on_both_backends(
    spark: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above SCREEN_ABOVE: estimates, ranking and silhouettes on the driver, Lloyd on MLlib."""
    from pyspark.sql import SparkSession
    from sklearn.metrics import adjusted_rand_score

    from batchlake.analytics import clustering

    assert isinstance(spark, SparkSession)
    monkeypatch.setattr(clustering, "FIT_SAMPLE", 60)
    monkeypatch.setattr(clustering, "SCREEN_ABOVE", 60)
    monkeypatch.setattr(clustering, "SILHOUETTE_SAMPLE", 80)
    customers, truth = blobs(per_blob=30, count=4, seed=13)
    expected = segment_customers(customers, k_min=2, k_max=5, seed=3, n_init=2)
    got = segment_customers(spark.createDataFrame(customers), k_min=2, k_max=5, seed=3, n_init=2)
    for name in ("segments", "profiles", "metrics"):
        assert got[name].equals(expected[name]), name
    exhaustive = segment_customers(
        customers, k_min=2, k_max=5, seed=3, n_init=2, method="exhaustive"
    )
    labels = np.array(got["segments"].column("segment").to_pylist())
    reference = np.array(exhaustive["segments"].column("segment").to_pylist())
    assert adjusted_rand_score(reference, labels) == 1.0
    assert adjusted_rand_score(truth, labels) == 1.0
