"""Customer segmentation: standardise features, KMeans over a range of k, pick k by silhouette.

`segment_customers` takes one row per customer (an id column and numeric features) and
returns three Arrow tables:

- segments: id, segment (1 = largest; 0 = not segmented), distance_to_centroid (in
  standardised units), the two principal components `pc1`/`pc2` (for plotting), and the
  features as given;
- profiles: segment, label (e.g. "Rock 58% · high spend"), customers, mean of each feature;
- metrics: k, inertia (the elbow), silhouette, chosen.

Customers with a NULL feature (in refined.customer_features: no purchases, so no averages
or shares) are not clustered: they get segment 0, labelled `unsegmented_label`, with NULL
distance and components, so every customer has a segment.

The rule: for every k in [k_min, k_max] (capped at customers - 1), fit KMeans with a fixed
seed and `n_init` starts; choose the k with the highest silhouette (Euclidean distance on
the standardised features), the smallest k on a tie. `method` says how the fits are made
(`batchlake.analytics.clustering`): "exhaustive" fits every start of every k over every
customer; "screened" (the default) gives the same choice and segments for a fraction of
the work above 50,000 customers, and is the exhaustive fit below. The fitting sits behind
a backend function (`BACKENDS`): scikit-learn (`"sklearn"`, the embedded engine's) or
Spark MLlib (`"mllib"`, `batchlake.analytics.segmentation_spark`, which pyspark users
import). Both standardise alike, start KMeans from the same k-means++ centres and score
with the same silhouette, so they give the same segments; `choose_k` and the tables are
shared.

`segment_customers` takes a `pyarrow.Table` or a Spark DataFrame (a step's
`ctx.dataframe(...)` on Spark); a DataFrame selects the MLlib backend by default. Only
the id and feature columns are brought to the driver, where the result tables (one row
per customer) are assembled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from batchlake.analytics.clustering import (
    METHODS,
    BackendResult,
    KFit,
    exhaustive_fit,
    screened_fit,
    screens,
    silhouette_rows,
)
from batchlake.analytics.kmeans import Points, lloyd, standardise
from batchlake.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "BACKENDS",
    "FEATURES",
    "METHODS",
    "BackendResult",
    "KFit",
    "choose_k",
    "describe",
    "segment_customers",
    "silhouette_rows",
    "sklearn_backend",
]

# The twelve features of refined.customer_features, in order.
FEATURES = (
    "total_purchases",
    "total_spent",
    "avg_track_price",
    "avg_track_seconds",
    "unique_genres",
    "pct_rock",
    "pct_metal",
    "pct_jazz",
    "pct_latin",
    "pct_blues",
    "pct_classical",
    "pct_other",
)

_GENRES = {
    "pct_rock": "Rock",
    "pct_metal": "Metal",
    "pct_jazz": "Jazz",
    "pct_latin": "Latin",
    "pct_blues": "Blues",
    "pct_classical": "Classical",
    "pct_other": "Other genres",
}
_TRAITS = {  # feature: (name when high, name when low)
    "total_purchases": ("frequent buyers", "rare buyers"),
    "avg_track_price": ("pricier tracks", "cheaper tracks"),
    "avg_track_seconds": ("long tracks", "short tracks"),
    "unique_genres": ("eclectic", "focused"),
}


Backend = Callable[["np.ndarray", Sequence[int], int, int, str], BackendResult]


def sklearn_backend(
    features: np.ndarray,
    ks: Sequence[int],
    seed: int,
    n_init: int,
    method: str = "screened",
) -> BackendResult:
    """StandardScaler, KMeans per k (fixed seed and starts), silhouette, PCA: scikit-learn's.

    Computed by scikit-learn for the exhaustive fit (`method="exhaustive"`, and "screened"
    up to `SCREEN_ABOVE` customers); in NumPy, as scikit-learn computes it, above
    (`batchlake.analytics.kmeans`), which spares the step the import of scikit-learn.
    """
    scaled = standardise(features)
    if method == "exhaustive":  # the reference, computed as it always was
        fits = _exhaustive(scaled, ks, seed, n_init)
    elif not screens(len(scaled)):
        fits = exhaustive_fit(scaled, ks, seed, n_init)
    else:
        fits = screened_fit(scaled, ks, seed, n_init, partial(_lloyd, Points.of(scaled)))
    return BackendResult(scaled, fits, principal_components(scaled))


def principal_components(scaled: np.ndarray) -> np.ndarray:
    """The first two principal components, as scikit-learn's `PCA(2).fit_transform` gives them.

    From the eigenvectors of the 12 x 12 covariance (what PCA's "covariance_eigh" solver
    does on tall data), each signed so that its largest loading is positive, as scikit-learn
    signs them; without importing `sklearn.decomposition` (0.15 s).
    """
    import numpy as np

    centred = scaled - scaled.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    loadings = vectors[:, np.argsort(values)[::-1][: min(2, scaled.shape[1])]]
    largest = np.abs(loadings).argmax(axis=0)
    loadings = loadings * np.sign(loadings[largest, np.arange(loadings.shape[1])])
    return centred @ loadings


def _exhaustive(scaled: np.ndarray, ks: Sequence[int], seed: int, n_init: int) -> list[KFit]:
    """KMeans(n_init) over every customer for every k; scikit-learn's silhouette_score."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rows = silhouette_rows(len(scaled), seed)
    sample = scaled if rows is None else scaled[rows]
    fits = []
    for k in ks:
        model = KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(scaled)
        labels = model.labels_
        picked = labels if rows is None else labels[rows]
        score = float(silhouette_score(sample, picked)) if len(set(picked)) > 1 else -1.0
        fits.append(KFit(k, labels, model.cluster_centers_, float(model.inertia_), score))
    return fits


def _lloyd(points: Points, k: int, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd over every customer from the given `k` centres: `KMeans(init=start, n_init=1)`."""
    fit = lloyd(points, start)
    return fit.labels, fit.centers, fit.inertia


def mllib_backend(
    features: np.ndarray,
    ks: Sequence[int],
    seed: int,
    n_init: int,
    method: str = "screened",
    *,
    spark: SparkSession | None = None,
) -> BackendResult:
    """The Spark MLlib backend (`segmentation_spark`, imported only when used)."""
    from batchlake.analytics.segmentation_spark import mllib_backend as fit

    return fit(features, ks, seed, n_init, method, spark=spark)


BACKENDS: dict[str, Backend] = {"sklearn": sklearn_backend, "mllib": mllib_backend}


def choose_k(fits: Sequence[KFit]) -> KFit:
    """The fit with the best silhouette; the smallest k on a tie."""
    return max(fits, key=lambda fit: (round(fit.silhouette, 12), -fit.k))


def segment_customers(
    customers: pa.Table | DataFrame,
    *,
    id_column: str = "customer_id",
    features: Sequence[str] = FEATURES,
    k_min: int = 2,
    k_max: int = 8,
    seed: int = 42,
    n_init: int = 10,
    backend: str | None = None,
    method: str = "screened",
    unsegmented_label: str = "no purchases",
) -> dict[str, pa.Table]:
    """Segment customers; return the `segments`, `profiles` and `metrics` tables.

    `backend` defaults to "mllib" for a Spark DataFrame, "sklearn" for an Arrow table;
    `method` is "screened" or "exhaustive" (see `batchlake.analytics.clustering`).
    """
    import numpy as np
    import pyarrow as pa

    fit: Backend
    if method not in METHODS:
        raise ModelError(
            f"unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}"
        )
    arrow = isinstance(customers, pa.Table)
    columns = customers.column_names if arrow else list(customers.columns)  # or a DataFrame
    missing = [c for c in (id_column, *features) if c not in columns]
    if missing:
        raise ModelError(f"segmentation input has no column {', '.join(missing)}")
    name = backend or ("sklearn" if arrow else "mllib")
    if name not in BACKENDS:
        raise ModelError(
            f"unknown segmentation backend {name!r}; choose one of {', '.join(BACKENDS)}"
        )
    fit = BACKENDS[name]
    if not isinstance(customers, pa.Table):
        if name == "mllib":  # the DataFrame's own session, whatever thread this runs in
            fit = partial(mllib_backend, spark=customers.sparkSession)
        customers = customers.select(id_column, *features).toArrow()
    # Rows in id order: KMeans' random starts pick rows by position, so the same customers
    # must give the same result whatever order the engine returned them in.
    customers = customers.sort_by(id_column)
    full = np.column_stack(
        [customers.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False) for c in features]
    )
    usable = ~np.isnan(full).any(axis=1)
    matrix = full[usable]
    count = len(matrix)
    ks = list(range(max(2, k_min), min(k_max, count - 1) + 1))
    if not ks:
        raise ModelError(
            f"segmentation needs k in [{k_min}, {k_max}] with 2 <= k < customers with "
            f"complete features ({count})"
        )
    result = fit(matrix, ks, seed, n_init, method)
    chosen = choose_k(result.fits)
    segment, centers = _renumber(chosen.labels, chosen.centers)
    distance = np.linalg.norm(result.scaled - centers[segment - 1], axis=1)

    def spread(values: np.ndarray, kind: pa.DataType) -> pa.Array:
        """Values of the clustered customers in input order, NULL for the others."""
        out = np.zeros(customers.num_rows, dtype=values.dtype)
        out[usable] = values
        return pa.array(out, kind, mask=~usable)

    all_segments = np.zeros(customers.num_rows, dtype=np.int64)
    all_segments[usable] = segment
    segments = pa.table(
        {
            id_column: customers.column(id_column),
            "segment": pa.array(all_segments, pa.int32()),
            "distance_to_centroid": spread(np.round(distance, 6), pa.float64()),
            "pc1": spread(np.round(result.components[:, 0], 6), pa.float64()),
            "pc2": spread(np.round(result.components[:, 1], 6), pa.float64()),
            **{c: customers.column(c) for c in features},
        }
    )
    profiles = _profiles(matrix, segment, centers, list(features))
    left_out = int((~usable).sum())
    if left_out:
        zero = {"segment": 0, "label": unsegmented_label, "customers": left_out}
        none = {name: None for name in profiles.column_names if name not in zero}
        profiles = pa.concat_tables(
            [pa.Table.from_pylist([{**zero, **none}], schema=profiles.schema), profiles]
        )
    metrics = pa.table(
        {
            "k": pa.array([f.k for f in result.fits], pa.int32()),
            "inertia": pa.array([round(f.inertia, 6) for f in result.fits]),
            "silhouette": pa.array([round(f.silhouette, 6) for f in result.fits]),
            "chosen": pa.array([f.k == chosen.k for f in result.fits]),
        }
    )
    return {
        "segments": segments,
        "profiles": profiles,
        "metrics": metrics,
    }


def _renumber(labels: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments numbered 1..k by size, largest first.

    On a tie, the segment of the customer who comes first (in id order) goes first: the
    numbers depend on the partition only, not on how a backend numbered its clusters.
    """
    import numpy as np

    sizes = np.bincount(labels, minlength=len(centers))
    seen, at = np.unique(labels, return_index=True)  # each label's first position
    first = dict(zip(seen.tolist(), at.tolist(), strict=True))
    order = sorted(
        range(len(centers)), key=lambda label: (-sizes[label], first.get(label, len(labels)))
    )
    new = np.empty(len(centers), dtype=np.int64)
    new[order] = np.arange(1, len(centers) + 1)
    return new[labels], centers[order]


def _profiles(
    matrix: np.ndarray, segment: np.ndarray, centers: np.ndarray, features: list[str]
) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    k = len(centers)
    means = np.array([matrix[segment == s].mean(axis=0) for s in range(1, k + 1)])
    labels = describe(centers, features, means)
    return pa.table(
        {
            "segment": pa.array(range(1, k + 1), pa.int32()),
            "label": pa.array(labels),
            "customers": pa.array([int((segment == s).sum()) for s in range(1, k + 1)], pa.int64()),
            **{f"mean_{c}": pa.array(np.round(means[:, i], 2)) for i, c in enumerate(features)},
        }
    )


def describe(
    centers: np.ndarray, features: list[str], means: np.ndarray | None = None
) -> list[str]:
    """A readable label per segment, true to what its customers buy.

    `centers` are the segments' centres in standardised units, `means` the segments' mean
    features in their own units (genre shares in percent). The label holds the genre with
    the largest share and that share ("Rock 58%"); another genre bought well above the
    average of all customers (z >= 0.75) as "<genre> above average" — a rare genre can
    stand out at a few percent, so it is never named as if it dominated; the spend level
    (z of total_spent above 0.5: high, below -0.5: low, else mid); and the strongest other
    trait when it is marked (|z| >= 0.75). Without `means` only the standing-out genre is
    known: "<genre> above average". Equal labels get " (2)", " (3)"... so each is unique.
    """
    labels = []
    for row, center in enumerate(centers):
        z = dict(zip(features, center, strict=True))
        parts = []
        genres = [g for g in _GENRES if g in z]
        dominant = None
        if genres and means is not None:
            share = dict(zip(features, means[row], strict=True))
            dominant = max(genres, key=lambda g: share[g])
            parts.append(f"{_GENRES[dominant]} {share[dominant]:.0f}%")
        standout = max(genres, key=lambda g: z[g]) if genres else None
        marked = 0.75 if dominant is not None else 0.0  # without shares: any above average
        if standout is not None and standout != dominant and z[standout] > marked:
            parts.append(f"{_GENRES[standout]} above average")
        if "total_spent" in z:
            spend = z["total_spent"]
            parts.append(
                "high spend" if spend > 0.5 else "low spend" if spend < -0.5 else "mid spend"
            )
        traits = [t for t in _TRAITS if t in z and abs(z[t]) >= 0.75]
        if traits:
            trait = max(traits, key=lambda t: abs(z[t]))
            parts.append(_TRAITS[trait][0 if z[trait] > 0 else 1])
        labels.append(" · ".join(parts) or "segment")
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique
