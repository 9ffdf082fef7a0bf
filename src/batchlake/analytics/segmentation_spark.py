"""The Spark MLlib backend of customer segmentation (`backend="mllib"`, extra `spark`).

It fits what `sklearn_backend` fits, on Spark, so that both give the same segments:

- Scaling: `pyspark.ml.feature.StandardScaler(withMean=True, withStd=True)` divides by
  the sample standard deviation (n - 1), scikit-learn by the population one (n); an
  `ElementwiseProduct` by sqrt(n / (n - 1)) makes the two equal.
- KMeans for each k: MLlib's own start (k-means||, or random) lands in other local
  optima than scikit-learn's k-means++ on the Chinook features (adjusted Rand index
  0.22-0.92 against scikit-learn per k, measured; docs/scale-out.md). So both backends
  start from the same centres: the `n_init` k-means++ starts scikit-learn's
  `KMeans(random_state=seed)` draws (`sklearn.cluster.kmeans_plusplus` with one
  `RandomState(seed)` per k, in the same order), each refined on Spark by MLlib's Lloyd
  iterations (`pyspark.mllib.clustering.KMeans.train(initialModel=...)`: the
  DataFrame-based `pyspark.ml` KMeans takes no starting centres), at most 300 as in
  scikit-learn. The start with the lowest cost (`computeCost`) wins, the first on a tie.
  The starts run in a few threads: each is a chain of small Spark jobs.
- Silhouette: Euclidean, as scikit-learn's `silhouette_score`, computed on Spark from
  the pairwise distances (a self cross join, O(n²) like scikit-learn's). MLlib's
  `ClusteringEvaluator` offers only squared Euclidean and cosine distances, which
  would choose k by another rule.
- PCA: `pyspark.ml.feature.PCA(k=2)`, each component's sign set as scikit-learn sets it
  (its largest loading positive).

The k-means++ starts are drawn on the driver, which holds the standardised matrix (one
row per customer) as `segment_customers` does for the result tables.

With `method="screened"` (`batchlake.analytics.clustering.screened_fit`, above 50,000
customers) the fixed-size work runs on the driver with scikit-learn, exactly as in the
scikit-learn backend, so both take the same decisions: the estimates and the ranking of
the starts on the 20,000-customer fit sample, and the silhouettes over the 10,000-customer
silhouette sample (`clustering.silhouettes`). What grows with the customers runs on
Spark: scaling, PCA, and Lloyd over every customer from each start that is confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from batchlake.analytics.clustering import (
    BackendResult,
    KFit,
    kmeans_starts,
    screened_fit,
    screens,
    silhouette_rows,
)
from batchlake.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    from pyspark.mllib.clustering import KMeansModel
    from pyspark.rdd import RDD
    from pyspark.sql import DataFrame, SparkSession

MAX_ITERATIONS = 300  # scikit-learn's KMeans max_iter
EPSILON = 1e-12  # MLlib stops when no centre moves further: run Lloyd to its fixed point
THREADS = 4  # starts fitted at once (each is a chain of small jobs)


def mllib_backend(
    features: np.ndarray,
    ks: Sequence[int],
    seed: int,
    n_init: int,
    method: str = "screened",
    *,
    spark: SparkSession | None = None,
) -> BackendResult:
    """StandardScaler, KMeans per k, silhouette and PCA on Spark MLlib (see the module)."""
    import numpy as np
    from pyspark.mllib.linalg import Vectors

    session = spark or _active_session()
    points, scaled = _scaled(session, features)
    # (row, vector of the RDD-based API): what pyspark.mllib's KMeans reads. A lambda, so
    # that Spark's Python workers need pyspark only, not batchlake.
    vectors = points.rdd.map(lambda r: (r.row, Vectors.fromML(r.features))).cache()
    try:
        rows = np.asarray(vectors.keys().collect())
        if method == "screened" and screens(len(scaled)):

            def lloyd(k: int, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
                return _labelled(_train(vectors.values(), k, start), vectors.values(), rows)

            fits = screened_fit(scaled, ks, seed, n_init, lloyd)
        else:
            fits = _kmeans(vectors.values(), rows, scaled, ks, seed, n_init)
            scores = _silhouettes(session, points, fits, silhouette_rows(len(scaled), seed))
            fits = [KFit(f.k, f.labels, f.centers, f.inertia, scores.get(f.k, -1.0)) for f in fits]
        components = _components(points, features.shape[1])
    finally:
        vectors.unpersist()
        points.unpersist()
    return BackendResult(scaled, fits, components)


def _active_session() -> SparkSession:
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        raise ModelError(
            "segmentation backend 'mllib' needs a running SparkSession: pass the step's "
            "ctx.dataframe(...) on engine spark, or use backend 'sklearn'"
        )
    return session


def _scaled(spark: SparkSession, features: np.ndarray) -> tuple[DataFrame, np.ndarray]:
    """The standardised features on Spark (row, features) and collected in row order."""
    import numpy as np
    import pyarrow as pa
    from pyspark.ml.feature import ElementwiseProduct, StandardScaler
    from pyspark.ml.functions import array_to_vector, vector_to_array
    from pyspark.ml.linalg import Vectors
    from pyspark.sql import functions as F

    count, width = features.shape
    if count < 2:
        raise ModelError("segmentation needs at least two customers with complete features")
    offsets = pa.array(np.arange(0, count * width + 1, width), pa.int32())
    matrix = pa.ListArray.from_arrays(offsets, pa.array(features.ravel(), pa.float64()))
    frame = spark.createDataFrame(
        pa.table({"row": pa.array(np.arange(count), pa.int64()), "raw": matrix})
    ).select("row", array_to_vector(F.col("raw")).alias("raw"))
    sample = StandardScaler(withMean=True, withStd=True, inputCol="raw", outputCol="sample")
    population = ElementwiseProduct(
        scalingVec=Vectors.dense([float(np.sqrt(count / (count - 1)))] * width),
        inputCol="sample",
        outputCol="features",
    )
    points = population.transform(sample.fit(frame).transform(frame)).select("row", "features")
    points = points.cache()
    collected = points.select("row", vector_to_array(F.col("features")).alias("x")).toArrow()
    order = np.argsort(collected.column("row").to_numpy())
    values = collected.column("x").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return points, values.reshape(count, width)[order]


def _kmeans(
    data: RDD[object],
    rows: np.ndarray,
    scaled: np.ndarray,
    ks: Sequence[int],
    seed: int,
    n_init: int,
) -> list[KFit]:
    """Per k: scikit-learn's k-means++ starts, MLlib's Lloyd from each, the cheapest kept."""

    # The starts scikit-learn's KMeans(random_state=seed) draws, start after start, per k.
    starts = [
        (k, scaled[indices]) for k in ks for indices in kmeans_starts(scaled, k, seed, n_init)
    ]

    def fit(start: tuple[int, np.ndarray]) -> tuple[KMeansModel, float]:
        model = _train(data, *start)
        return model, float(model.computeCost(data))

    with ThreadPoolExecutor(max_workers=min(THREADS, len(starts))) as pool:
        fitted = list(pool.map(fit, starts))
    best: dict[int, tuple[KMeansModel, float]] = {}
    for (k, _), (model, cost) in zip(starts, fitted, strict=True):
        # Starts that reach the same partition differ in cost by rounding only.
        if k not in best or cost < best[k][1] - 1e-9 * max(1.0, best[k][1]):
            best[k] = (model, cost)
    fits = []
    for k in ks:
        model, cost = best[k]
        labels, centers, _ = _labelled(model, data, rows, cost)
        fits.append(KFit(k, labels, centers, cost, -1.0))
    return fits


def _train(data: RDD[object], k: int, centres: np.ndarray) -> KMeansModel:
    """MLlib's Lloyd from the given centres, to its fixed point (at most MAX_ITERATIONS)."""
    from pyspark.mllib.clustering import KMeans, KMeansModel

    return KMeans.train(
        data,
        k,
        maxIterations=MAX_ITERATIONS,
        initialModel=KMeansModel(list(centres)),
        epsilon=EPSILON,
    )


def _labelled(
    model: KMeansModel, data: RDD[object], rows: np.ndarray, cost: float | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """The model's labels (in row order), centres and cost over `data`."""
    import numpy as np

    labels = np.empty(len(rows), dtype=np.int64)
    labels[rows] = np.asarray(model.predict(data).collect(), dtype=np.int64)
    centers = np.array([np.asarray(c, dtype=float) for c in model.clusterCenters])
    return labels, centers, float(model.computeCost(data)) if cost is None else cost


def _silhouettes(
    spark: SparkSession, points: DataFrame, fits: Sequence[KFit], rows: np.ndarray | None
) -> dict[int, float]:
    """Mean Euclidean silhouette of each fit with two clusters or more, on Spark.

    s(i) = (b - a) / max(a, b): a is the mean distance from i to the other members of
    its cluster, b the lowest mean distance to another cluster's members; 0 for a point
    alone in its cluster (as scikit-learn). Taken over the customers at `rows` (the
    sample `silhouette_rows` drew; all when None).
    """
    import numpy as np
    import pyarrow as pa
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    every = np.arange(len(fits[0].labels)) if fits else np.arange(0)
    rows = every if rows is None else rows
    scored = [f for f in fits if len(np.unique(f.labels[rows])) > 1]
    if not scored:
        return {}
    x = points.select("row", vector_to_array(F.col("features")).alias("x"))
    if len(rows) < len(every):
        kept = spark.createDataFrame(pa.table({"row": pa.array(rows, pa.int64())}))
        x = x.join(kept, "row")
    squares = F.zip_with(F.col("a.x"), F.col("b.x"), lambda p, q: (p - q) * (p - q))
    pairs = (
        x.alias("a")
        .crossJoin(x.alias("b"))
        .where(F.col("a.row") != F.col("b.row"))
        .select(
            F.col("a.row").alias("i"),
            F.col("b.row").alias("j"),
            F.sqrt(F.aggregate(squares, F.lit(0.0), lambda total, v: total + v)).alias("d"),
        )
    )
    labels = spark.createDataFrame(
        pa.table(
            {
                "k": pa.array(np.repeat([f.k for f in scored], len(rows)), pa.int32()),
                "row": pa.array(np.tile(rows, len(scored)), pa.int64()),
                "label": pa.array(np.concatenate([f.labels[rows] for f in scored]), pa.int64()),
            }
        )
    )
    sizes = labels.groupBy("k", "label").agg(F.count("*").alias("size"))
    to_cluster = (
        pairs.join(labels.select("k", F.col("row").alias("j"), F.col("label").alias("to")), "j")
        .groupBy("k", "i", "to")
        .agg(F.sum("d").alias("total"))
        .join(sizes.select("k", F.col("label").alias("to"), "size"), ["k", "to"])
    )
    own = labels.select("k", F.col("row").alias("i"), F.col("label").alias("own")).join(
        sizes.select("k", F.col("label").alias("own"), F.col("size").alias("own_size")),
        ["k", "own"],
    )
    per_point = (
        own.join(to_cluster, ["k", "i"], "left")
        .groupBy("k", "i")
        .agg(
            F.first("own_size").alias("own_size"),
            F.max(F.when(F.col("to") == F.col("own"), F.col("total") / (F.col("size") - 1))).alias(
                "a"
            ),
            F.min(F.when(F.col("to") != F.col("own"), F.col("total") / F.col("size"))).alias("b"),
        )
    )
    score = F.when(F.col("own_size") <= 1, F.lit(0.0)).otherwise(
        F.coalesce((F.col("b") - F.col("a")) / F.greatest("a", "b"), F.lit(0.0))
    )
    means = per_point.groupBy("k").agg(F.avg(score).alias("silhouette")).collect()
    return {int(r["k"]): float(r["silhouette"]) for r in means}


def _components(points: DataFrame, width: int) -> np.ndarray:
    """The first two principal components (MLlib PCA), signed as scikit-learn signs them."""
    import numpy as np
    from pyspark.ml.feature import PCA
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    model = PCA(k=min(2, width), inputCol="features", outputCol="pcs").fit(points)
    loadings = model.pc.toArray()  # width x k, one column per component
    largest = np.abs(loadings).argmax(axis=0)
    signs = np.sign(loadings[largest, np.arange(loadings.shape[1])])
    pcs = vector_to_array(F.col("pcs")).alias("pc")
    projected = model.transform(points).select("row", pcs).toArrow()
    order = np.argsort(projected.column("row").to_numpy())
    values = projected.column("pc").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(order), loadings.shape[1])[order] * signs
