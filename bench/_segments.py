"""The segmentation step's result against the exhaustive fit (shared by the benchmarks).

`compare` puts two results of `segment_customers` side by side: the k each chose, the
adjusted Rand index of their segments and the relative difference of the silhouettes of
the chosen k (both over the same seeded sample). `quality_verdict` turns that into the
cross-check verdict: "equal" when the k is the same, ARI >= 0.95 and the silhouettes are
within 1% (the targets of issue 19).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

ARI_TARGET = 0.95
SILHOUETTE_TOLERANCE = 0.01


def chosen(tables: dict[str, pa.Table]) -> dict[str, Any]:
    """The chosen row of a segmentation's metrics table (k, inertia, silhouette)."""
    return next(row for row in tables["metrics"].to_pylist() if row["chosen"])


def compare(reference: dict[str, pa.Table], result: dict[str, pa.Table]) -> dict[str, Any]:
    """k chosen, ARI and silhouette delta of `result` against `reference` (same customers)."""
    from sklearn.metrics import adjusted_rand_score

    labels = [
        t["segments"].sort_by("customer_id").column("segment").to_numpy()
        for t in (reference, result)
    ]
    ref, got = chosen(reference), chosen(result)
    return {
        "k_reference": ref["k"],
        "k": got["k"],
        "ari": float(adjusted_rand_score(*labels)),
        "silhouette_reference": ref["silhouette"],
        "silhouette": got["silhouette"],
        "silhouette_delta": (got["silhouette"] - ref["silhouette"]) / abs(ref["silhouette"]),
    }


def meets_targets(figures: dict[str, Any]) -> bool:
    return bool(
        figures["k"] == figures["k_reference"]
        and figures["ari"] >= ARI_TARGET
        and abs(figures["silhouette_delta"]) <= SILHOUETTE_TOLERANCE
    )


def quality_verdict(figures: dict[str, Any]) -> str:
    text = (
        f"k {figures['k']} (exhaustive {figures['k_reference']}), ARI {figures['ari']:.3f}, "
        f"silhouette {figures['silhouette_delta']:+.2%}"
    )
    return f"equal: {text}" if meets_targets(figures) else f"DIFFERENT: {text}"


def step_params(project: Path) -> dict[str, Any]:
    """The keyword arguments the project's customer_segments step passes."""
    from batchlake.lake import Lake

    params = dict(Lake.open(project).settings.python.get("customer_segments", {}))
    return {
        "k_min": int(params.get("k_min", 2)),
        "k_max": int(params.get("k_max", 8)),
        "seed": int(params.get("seed", 42)),
        "n_init": int(params.get("n_init", 10)),
    }


def exhaustive(features: pa.Table, params: dict[str, Any]) -> dict[str, pa.Table]:
    """The reference: `method="exhaustive"`, on one thread (repeatable, and as fast as two
    on a shared machine)."""
    from threadpoolctl import threadpool_limits

    from batchlake.analytics.segmentation import segment_customers

    with threadpool_limits(limits=1):
        return segment_customers(features, method="exhaustive", **params)


def read_one(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _read(files: list[str]) -> pa.Table:
    import pyarrow.parquet as pq

    return pa.concat_tables([pq.read_table(f) for f in files])


def step_tables(refined_files: dict[str, list[str]]) -> dict[str, pa.Table]:
    """The segments and metrics tables the project's step wrote."""
    return {
        "segments": _read(refined_files["customer_segments"]),
        "metrics": _read(refined_files["segmentation_metrics"]),
    }


def step_vs_exhaustive(project: Path, refined_files: dict[str, list[str]]) -> dict[str, Any]:
    """What the project's step wrote against the exhaustive fit of the same features."""
    reference = exhaustive(_read(refined_files["customer_features"]), step_params(project))
    return compare(reference, step_tables(refined_files))
