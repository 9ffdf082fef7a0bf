"""Customer segments: KMeans over the 12 features of refined.customer_features.

k runs over [python.customer_segments] k_min..k_max in batchlake.toml and the k with the
best silhouette wins; `method` says how the fits are made ("screened" or "exhaustive");
see batchlake.analytics.segmentation for the rule. On Spark the
features stay a Spark DataFrame and are fitted with MLlib; elsewhere with scikit-learn.
Both give the same segments.
"""

from batchlake import step
from batchlake.analytics.segmentation import segment_customers


@step(
    inputs=["refined.customer_features"],
    outputs=[
        "refined.customer_segments",
        "refined.segment_profiles",
        "refined.segmentation_metrics",
    ],
)
def customer_segments(ctx):
    """Standardise, KMeans for each k, choose k by silhouette, profile the segments."""
    params = ctx.params
    name = "refined.customer_features"
    # A Spark DataFrame selects the MLlib backend, an Arrow table scikit-learn.
    customers = ctx.dataframe(name) if ctx.engine == "spark" else ctx.table(name)
    tables = segment_customers(
        customers,
        k_min=int(params.get("k_min", 2)),
        k_max=int(params.get("k_max", 8)),
        seed=int(params.get("seed", 42)),
        n_init=int(params.get("n_init", 10)),
        method=str(params.get("method", "screened")),
    )
    return {
        "refined.customer_segments": tables["segments"],
        "refined.segment_profiles": tables["profiles"],
        "refined.segmentation_metrics": tables["metrics"],
    }
