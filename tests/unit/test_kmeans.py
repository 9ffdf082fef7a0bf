"""The NumPy KMeans of the "screened" path, each piece against scikit-learn's own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from batchlake.analytics import kmeans
from batchlake.analytics.kmeans import Points


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """scikit-learn's OpenMP threads spin on a busy machine (10x slower on 2 cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _blobs(count: int, centres: int, features: int, seed: int, spread: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middles = rng.uniform(-5, 5, size=(centres, features))
    return middles[rng.integers(0, centres, count)] + rng.normal(0, spread, (count, features))


def test_standardise_is_standard_scalers() -> None:
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    features = rng.normal(size=(1000, 5)) * [1.0, 1e3, 1e-3, 5.0, 1.0] + [0, 1e6, 3, -2, 0]
    features[:, 3] = 7.25  # a constant feature keeps scale 1: a column of zeros
    features[:, 4] = 0.1 + rng.normal(size=1000) * 1e-17  # indistinguishable from constant
    got = kmeans.standardise(features)
    np.testing.assert_allclose(got, StandardScaler().fit_transform(features), rtol=0, atol=1e-12)
    assert not got[:, 3].any()


@pytest.mark.parametrize(
    ("seed", "k", "spread"),
    [(2, 3, 1.0), (3, 5, 3.0), (4, 8, 6.0)],  # from separated blobs to one shapeless cloud
)
def test_lloyd_is_scikit_learns_from_the_same_start(seed: int, k: int, spread: float) -> None:
    from sklearn.cluster import KMeans

    data = _blobs(3000, 4, 6, seed, spread)
    init = data[np.random.default_rng(seed).choice(len(data), k, replace=False)]
    reference = KMeans(n_clusters=k, init=init, n_init=1).fit(data)
    got = kmeans.lloyd(Points.of(data), init)
    np.testing.assert_array_equal(got.labels, reference.labels_)
    np.testing.assert_allclose(got.centers, reference.cluster_centers_, rtol=0, atol=1e-10)
    assert got.inertia == pytest.approx(reference.inertia_, rel=1e-12)


def test_lloyd_relocates_an_empty_cluster_as_scikit_learn_does() -> None:
    from sklearn.cluster import KMeans

    data = _blobs(2000, 3, 4, 5)
    far = np.full((2, 4), 1e3)  # no point is nearest to these: both clusters start empty
    init = np.vstack([data[:3], far])
    reference = KMeans(n_clusters=5, init=init, n_init=1).fit(data)
    got = kmeans.lloyd(Points.of(data), init)
    assert len(np.unique(got.labels)) == 5  # the empty clusters took the farthest points
    np.testing.assert_array_equal(got.labels, reference.labels_)
    np.testing.assert_allclose(got.centers, reference.cluster_centers_, rtol=0, atol=1e-10)
    assert got.inertia == pytest.approx(reference.inertia_, rel=1e-12)


def test_lloyd_stops_at_max_iter_with_the_labels_of_its_last_centres() -> None:
    from sklearn.cluster import KMeans

    data = _blobs(1500, 5, 3, 6, spread=4.0)
    init = data[:6]
    reference = KMeans(n_clusters=6, init=init, n_init=1, max_iter=2).fit(data)
    got = kmeans.lloyd(Points.of(data), init, max_iter=2)
    np.testing.assert_array_equal(got.labels, reference.labels_)
    assert got.inertia == pytest.approx(reference.inertia_, rel=1e-12)


@pytest.mark.parametrize(("seed", "spread"), [(7, 1.0), (8, 8.0)])
def test_fit_with_starts_is_kmeans_with_random_state(seed: int, spread: float) -> None:
    from sklearn.cluster import KMeans

    data = _blobs(2500, 5, 12, seed, spread)
    points = Points.of(data)
    for k in (2, 5, 7):
        reference = KMeans(n_clusters=k, random_state=seed, n_init=6).fit(data)
        got = kmeans.fit(points, k, seed, 6)
        np.testing.assert_array_equal(got.labels, reference.labels_)
        np.testing.assert_allclose(got.centers, reference.cluster_centers_, atol=1e-10)
        assert got.inertia == pytest.approx(reference.inertia_, rel=1e-12)
        np.testing.assert_array_equal(
            kmeans.predict(data[::3] * 1.5, got.centers), reference.predict(data[::3] * 1.5)
        )


def test_same_partition_is_up_to_relabelling() -> None:
    labels = np.array([0, 0, 1, 2, 2])
    assert kmeans._same_partition(labels, np.array([2, 2, 0, 1, 1]), 3)
    assert not kmeans._same_partition(labels, np.array([2, 2, 0, 1, 0]), 3)


def test_the_screened_path_imports_neither_scikit_learn_nor_scipy() -> None:
    """Importing scikit-learn cost ~4.3 s, more than half the step at 285,714 customers."""
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import pyarrow as pa
        from batchlake.analytics import clustering
        from batchlake.analytics.segmentation import FEATURES, segment_customers

        count = clustering.SCREEN_ABOVE + 10_000
        rng = np.random.default_rng(0)
        middles = rng.uniform(0, 100, size=(3, len(FEATURES)))
        matrix = middles[rng.integers(0, 3, count)] + rng.normal(0, 5, (count, len(FEATURES)))
        table = pa.table(
            {"customer_id": np.arange(count), **{c: matrix[:, i] for i, c in enumerate(FEATURES)}}
        )
        before = set(sys.modules)
        metrics = segment_customers(table, k_min=2, k_max=3, n_init=2)["metrics"].to_pylist()
        assert [m["k"] for m in metrics if m["chosen"]] == [3], metrics
        loaded = {m.split(".")[0] for m in set(sys.modules) - before}
        print(sorted(loaded & {"sklearn", "scipy", "pandas"}))
        """
    )
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
