"""The pieces of the "screened" KMeans method, each against scikit-learn's own computation."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from batchlake.analytics import clustering
from batchlake.analytics.clustering import kmeans_starts, silhouettes
from batchlake.analytics.segmentation import FEATURES, segment_customers, sklearn_backend
from batchlake.errors import ModelError
from tests.unit.test_analytics import blobs


def test_silhouettes_of_many_labelings_equal_scikit_learns(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.metrics import silhouette_score

    monkeypatch.setattr(clustering, "_BLOCK", 97)  # many blocks, shared between threads
    rng = np.random.default_rng(3)
    points = rng.normal(size=(400, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0]
    labelings = {
        2: rng.integers(0, 2, 400),
        5: rng.integers(0, 5, 400),
        8: np.where(rng.random(400) < 0.5, 0, 7),  # clusters 1..6 have no member here
    }
    labelings[9] = labelings[5].copy()
    labelings[9][17] = 5  # a cluster of one point: its silhouette is 0
    got = silhouettes(points, labelings)
    assert set(got) == set(labelings)
    for key, labels in labelings.items():
        assert got[key] == pytest.approx(silhouette_score(points, labels), abs=1e-12), key
    assert silhouettes(points, {1: np.zeros(400, dtype=np.int64)}) == {1: -1.0}


def test_the_exhaustive_fits_starts_give_its_result() -> None:
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(4)
    scaled = rng.normal(size=(600, 4))  # one blob: many local optima, so the start matters
    for k in (3, 6):
        reference = KMeans(n_clusters=k, random_state=9, n_init=5).fit(scaled)
        runs = [
            KMeans(n_clusters=k, init=scaled[start], n_init=1).fit(scaled)
            for start in kmeans_starts(scaled, k, seed=9, n_init=5)
        ]
        best = min(runs, key=lambda run: run.inertia_)
        assert best.inertia_ == pytest.approx(reference.inertia_, rel=1e-12)
        np.testing.assert_array_equal(best.labels_, reference.labels_)


def test_screened_is_the_exhaustive_fit_up_to_screen_above() -> None:
    customers, _ = blobs(per_blob=30, count=3, seed=5)
    screened = segment_customers(customers, seed=2, n_init=3)
    exhaustive = segment_customers(customers, seed=2, n_init=3, method="exhaustive")
    for name in ("segments", "profiles", "metrics"):
        assert screened[name].equals(exhaustive[name]), name


def test_screened_finds_the_exhaustive_segments_above_the_fit_sample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    monkeypatch.setattr(clustering, "FIT_SAMPLE", 120)
    monkeypatch.setattr(clustering, "SCREEN_ABOVE", 120)
    monkeypatch.setattr(clustering, "SILHOUETTE_SAMPLE", 150)
    customers, truth = blobs(per_blob=100, count=4, seed=8)
    screened = segment_customers(customers, seed=6, n_init=4)
    exhaustive = segment_customers(customers, seed=6, n_init=4, method="exhaustive")
    chosen = {
        name: [m["k"] for m in tables["metrics"].to_pylist() if m["chosen"]]
        for name, tables in (("screened", screened), ("exhaustive", exhaustive))
    }
    assert chosen["screened"] == chosen["exhaustive"] == [4]
    labels = {
        name: np.array(tables["segments"].column("segment").to_pylist())
        for name, tables in (("screened", screened), ("exhaustive", exhaustive))
    }
    assert adjusted_rand_score(labels["exhaustive"], labels["screened"]) == 1.0
    assert adjusted_rand_score(truth, labels["screened"]) == 1.0
    # The metrics of the chosen k: its silhouette over the same seeded sample, from the labels.
    matrix = np.column_stack([customers.column(c).to_numpy() for c in FEATURES])
    scaled = (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)
    expected = silhouette_score(scaled, labels["screened"], sample_size=150, random_state=6)
    metrics = {m["k"]: m for m in screened["metrics"].to_pylist()}
    assert metrics[4]["silhouette"] == pytest.approx(expected, abs=1e-6)
    assert max(m["silhouette"] for m in metrics.values()) == metrics[4]["silhouette"]


def test_screened_refits_every_contender(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every k whose estimate is near the best is fitted from the exhaustive fit's starts."""
    from sklearn.cluster import KMeans

    monkeypatch.setattr(clustering, "FIT_SAMPLE", 100)
    monkeypatch.setattr(clustering, "SCREEN_ABOVE", 100)
    monkeypatch.setattr(clustering, "MARGIN", 10.0)  # every k is a contender
    monkeypatch.setattr(clustering, "CONFIRM", 3)  # and every start is confirmed
    rng = np.random.default_rng(12)
    matrix = rng.normal(size=(300, 4))
    got = sklearn_backend(matrix, [2, 3, 4], seed=1, n_init=3)
    scaled = (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)
    for fit in got.fits:
        reference = KMeans(n_clusters=fit.k, random_state=1, n_init=3).fit(scaled)
        assert fit.inertia == pytest.approx(reference.inertia_, rel=1e-9), fit.k
        np.testing.assert_array_equal(fit.labels, reference.labels_)


def test_unknown_method_is_named() -> None:
    customers, _ = blobs(per_blob=5, count=2)
    with pytest.raises(ModelError, match="unknown segmentation method 'fast'; choose one of"):
        segment_customers(customers, method="fast")
    assert isinstance(customers, pa.Table)


def test_each_start_is_drawn_alone_as_in_the_sequence() -> None:
    from sklearn.utils.extmath import row_norms

    from batchlake.analytics.clustering import kmeans_start

    rng = np.random.default_rng(21)
    scaled = rng.normal(size=(500, 3))
    centred = scaled - scaled.mean(axis=0)
    norms = row_norms(centred, squared=True)
    for k in range(2, 10):
        sequence = kmeans_starts(scaled, k, seed=5, n_init=4)
        for index, start in enumerate(sequence):
            np.testing.assert_array_equal(kmeans_start(centred, norms, k, 5, index), start)


def test_principal_components_are_scikit_learns() -> None:
    from sklearn.decomposition import PCA

    from batchlake.analytics.segmentation import principal_components

    rng = np.random.default_rng(2)
    scaled = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    expected = PCA(n_components=2).fit_transform(scaled)
    np.testing.assert_allclose(principal_components(scaled), expected, atol=1e-9)
