"""Segmentation and forecast on synthetic data, checked against independent computations."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pytest

from batchlake.analytics.forecast import forecast_tables
from batchlake.analytics.segmentation import FEATURES, describe, segment_customers
from batchlake.errors import ModelError


def silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with Euclidean distances, straight from its definition."""
    distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1))
    scores = []
    for i, label in enumerate(labels):
        same = labels == label
        if same.sum() == 1:
            scores.append(0.0)
            continue
        a = distances[i, same].sum() / (same.sum() - 1)
        b = min(distances[i, labels == other].mean() for other in set(labels) if other != label)
        scores.append((b - a) / max(a, b))
    return float(np.mean(scores))


def standardise(matrix: np.ndarray) -> np.ndarray:
    return (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)


def blobs(per_blob: int = 25, count: int = 4, seed: int = 7) -> tuple[pa.Table, np.ndarray]:
    """Customers drawn around `count` well separated centres in the 12 features."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 100, size=(count, len(FEATURES)))
    truth = np.repeat(np.arange(count), per_blob)
    matrix = centres[truth] + rng.normal(0, 2.0, size=(len(truth), len(FEATURES)))
    columns = {"customer_id": pa.array(np.arange(1, len(truth) + 1), pa.int64())}
    columns |= {name: pa.array(matrix[:, i]) for i, name in enumerate(FEATURES)}
    return pa.table(columns), truth


def features_of(table: pa.Table) -> np.ndarray:
    return np.column_stack([np.asarray(table.column(c).to_pylist(), float) for c in FEATURES])


def test_segmentation_finds_the_blobs_and_is_deterministic() -> None:
    customers, truth = blobs()
    first = segment_customers(customers, k_min=2, k_max=7, seed=3)
    again = segment_customers(customers, k_min=2, k_max=7, seed=3)
    for name in ("segments", "profiles", "metrics"):
        assert first[name].equals(again[name]), name
    # The engine may return rows in any order: the result must not depend on it.
    shuffled = customers.take(np.random.default_rng(0).permutation(customers.num_rows))
    for name, table in segment_customers(shuffled, k_min=2, k_max=7, seed=3).items():
        assert table.equals(first[name]), name
    metrics = first["metrics"].to_pylist()
    assert [m["k"] for m in metrics] == list(range(2, 8))
    assert [m["k"] for m in metrics if m["chosen"]] == [4]
    segment = np.array(first["segments"].column("segment").to_pylist())
    # The same partition as the truth (segment numbers are arbitrary).
    pairs = set(zip(truth.tolist(), segment.tolist(), strict=True))
    assert len(pairs) == 4 and len({s for _, s in pairs}) == 4


def test_chosen_k_has_the_best_independent_silhouette() -> None:
    from sklearn.cluster import KMeans

    customers, _ = blobs(per_blob=15, count=3, seed=11)
    # Overlapping blobs make the choice less obvious.
    noisy = customers.set_column(
        1, "total_purchases", pa.array(np.random.default_rng(1).normal(0, 50, customers.num_rows))
    )
    result = segment_customers(noisy, k_min=2, k_max=6, seed=5, n_init=4)
    scaled = standardise(features_of(noisy))
    metrics = {m["k"]: m for m in result["metrics"].to_pylist()}
    recomputed = {}
    for k in metrics:
        labels = KMeans(n_clusters=k, random_state=5, n_init=4).fit(scaled).labels_
        recomputed[k] = silhouette(scaled, labels)
        assert metrics[k]["silhouette"] == pytest.approx(recomputed[k], abs=1e-5)
    best = max(recomputed, key=lambda k: (round(recomputed[k], 9), -k))
    assert [k for k, m in metrics.items() if m["chosen"]] == [best]
    # The segments written are the chosen fit: same silhouette from the table's labels.
    segment = np.array(result["segments"].column("segment").to_pylist())
    assert silhouette(scaled, segment) == pytest.approx(recomputed[best], abs=1e-5)


def test_distances_and_profiles_agree_with_the_segments() -> None:
    customers, _ = blobs(per_blob=12, count=3, seed=2)
    result = segment_customers(customers, seed=1)
    segments = result["segments"].to_pylist()
    scaled = standardise(features_of(customers))
    label = np.array([row["segment"] for row in segments])
    for row, point in zip(segments, scaled, strict=True):
        centre = scaled[label == row["segment"]].mean(axis=0)  # a KMeans centre is the mean
        assert row["distance_to_centroid"] == pytest.approx(
            float(np.linalg.norm(point - centre)), abs=1e-4
        )
    grouped: dict[int, list[dict[str, float]]] = defaultdict(list)
    for row in segments:
        grouped[row["segment"]].append(row)
    profiles = result["profiles"].to_pylist()
    assert sorted(p["segment"] for p in profiles) == sorted(grouped)
    assert sum(p["customers"] for p in profiles) == customers.num_rows
    for profile in profiles:
        members = grouped[profile["segment"]]
        assert profile["customers"] == len(members)
        assert profile["mean_total_spent"] == pytest.approx(
            np.mean([m["total_spent"] for m in members]), abs=0.006
        )
    assert len({p["label"] for p in profiles}) == len(profiles)
    sizes = [p["customers"] for p in sorted(profiles, key=lambda p: p["segment"])]
    assert sizes == sorted(sizes, reverse=True)  # segment 1 is the largest


def test_customers_with_missing_features_get_segment_zero() -> None:
    customers, _ = blobs(per_blob=10, count=3)
    nulls = {name: pa.array([None, None], pa.float64()) for name in FEATURES}
    extra = pa.table({"customer_id": pa.array([900, 901], pa.int64()), **nulls})
    result = segment_customers(pa.concat_tables([customers, extra]), seed=1)
    by_id = {row["customer_id"]: row for row in result["segments"].to_pylist()}
    assert by_id[900]["segment"] == 0 and by_id[900]["distance_to_centroid"] is None
    assert all(by_id[i]["segment"] > 0 for i in range(1, 31))
    profiles = {p["segment"]: p for p in result["profiles"].to_pylist()}
    assert (profiles[0]["label"], profiles[0]["customers"]) == ("no purchases", 2)
    assert sum(p["customers"] for p in profiles.values()) == 32


def test_segmentation_errors() -> None:
    customers, _ = blobs(per_blob=1, count=2)
    with pytest.raises(ModelError, match="2 <= k < customers"):
        segment_customers(customers)
    with pytest.raises(ModelError, match="no column pct_rock"):
        segment_customers(customers.drop_columns(["pct_rock"]))


def test_labels_name_the_standout_genre_and_spend() -> None:
    names = list(FEATURES)
    centre = np.zeros((2, len(names)))
    centre[0, names.index("pct_latin")] = 1.5
    centre[0, names.index("total_spent")] = 1.2
    centre[1, names.index("pct_jazz")] = 0.9
    centre[1, names.index("total_spent")] = -0.8
    centre[1, names.index("unique_genres")] = -1.1
    assert describe(centre, names) == [
        "Latin above average · high spend",
        "Jazz above average · low spend · focused",
    ]


# -- forecast ------------------------------------------------------------------------------


def months_table(start_year: int, values: list[float]) -> pa.Table:
    labels = [f"{start_year + i // 12:04d}-{i % 12 + 1:02d}" for i in range(len(values))]
    return pa.table({"month": labels, "total_amount": pa.array(values)})


def reference_model(values: np.ndarray, first_month: int, future: np.ndarray) -> np.ndarray:
    """Trend by least squares × mean ratio per calendar month (normalised), written anew."""
    t = np.arange(len(values), dtype=float)
    design = np.column_stack([np.ones_like(t), t])
    (a, b), *_ = np.linalg.lstsq(design, values, rcond=None)
    trend = a + b * t
    month = (first_month - 1 + t.astype(int)) % 12
    ratio = {m: float(np.mean(values[month == m] / trend[month == m])) for m in set(month)}
    mean = np.mean(list(ratio.values()))
    future_month = (first_month - 1 + future.astype(int)) % 12
    return (a + b * future) * np.array([ratio.get(m, mean) / mean for m in future_month])


def test_a_straight_line_is_forecast_exactly() -> None:
    values = [100.0 + 5 * i for i in range(30)]
    tables = forecast_tables(months_table(2020, values), horizon=3, backtest=6)
    forecast = tables["forecast"].to_pylist()
    assert [f["month"] for f in forecast] == ["2022-07", "2022-08", "2022-09"]
    assert [f["forecast_amount"] for f in forecast] == pytest.approx([250.0, 255.0, 260.0])
    overall = tables["metrics"].to_pylist()[-1]
    assert overall["scope"] == "overall" and overall["abs_pct_error"] == pytest.approx(0, abs=1e-6)


def test_forecast_and_backtest_match_a_reference_implementation() -> None:
    rng = np.random.default_rng(4)
    season = np.array([0.8, 0.7, 0.9, 1.0, 1.0, 0.95, 1.05, 1.0, 0.95, 1.1, 1.2, 1.35])
    t = np.arange(40)
    values = (200 + 3 * t) * season[(t + 2) % 12] + rng.normal(0, 8, len(t))  # from March
    table = months_table(2021, [0.0, 0.0, *values.tolist()]).slice(2)  # starts 2021-03
    tables = forecast_tables(table, horizon=3, backtest=6)
    expected = reference_model(values, 3, np.arange(40, 43, dtype=float))
    got = [f["forecast_amount"] for f in tables["forecast"].to_pylist()]
    assert got == pytest.approx(expected, abs=0.006)
    held = reference_model(values[:34], 3, np.arange(34, 40, dtype=float))
    months = [m for m in tables["metrics"].to_pylist() if m["scope"] == "month"]
    assert [m["actual_amount"] for m in months] == pytest.approx(values[34:], abs=0.006)
    assert [m["forecast_amount"] for m in months] == pytest.approx(held, abs=0.006)
    mape = float(np.mean(np.abs(values[34:] - held) / values[34:] * 100))
    overall = tables["metrics"].to_pylist()[-1]
    assert overall["abs_pct_error"] == pytest.approx(mape, abs=1e-3)


def test_months_without_sales_count_as_zero_and_short_history_is_refused() -> None:
    table = pa.table({"month": ["2024-01", "2024-03"], "total_amount": [10.0, 30.0]})
    with pytest.raises(ModelError, match="at least 9 months of history"):
        forecast_tables(table)
    gappy = months_table(2020, [50.0] * 24).filter(pa.array([i != 5 for i in range(24)]))
    metrics = forecast_tables(gappy)["metrics"].to_pylist()
    assert Counter(m["scope"] for m in metrics) == {"month": 6, "overall": 1}
