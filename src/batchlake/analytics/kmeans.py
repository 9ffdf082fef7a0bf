"""KMeans in NumPy alone: standardisation, k-means++ starts, Lloyd, n_init starts.

What the "screened" method fits above `clustering.SCREEN_ABOVE` customers, computed as
scikit-learn computes it (`StandardScaler`, `KMeans(algorithm="lloyd")`), so the results
are scikit-learn's up to rounding (tests/unit/test_kmeans.py holds them against it), but
without importing scikit-learn: that import (sklearn.base -> sklearn.utils -> scipy,
pandas...) cost ~4.3 s of the 8 s the segmentation step took at 285,714 customers, more
than the fits themselves. A leaf module: NumPy only.

Lloyd as scikit-learn runs it (`_kmeans_single_lloyd`): the data and the starting centres
are centred on the data's mean; each iteration assigns every point to its nearest centre
and moves each centre to its members' mean, an empty cluster taking the point farthest
from its centre; it stops when no label changed, or when the centres moved less than
`tolerance` (squared, summed), after at most `MAX_ITER` iterations; then the labels are
taken again from the final centres unless none had changed. The nearest centre is the
argmin of ||c||² - 2 x·c (||x||² is the same for every centre), one matrix product per
iteration with ||c||² folded in as an extra column of ones; the clusters' sums are one
`bincount` per feature over the feature's contiguous column, then updated with only the
points that changed cluster (a small fraction after the first iterations), which puts
the centres within ~1e-12 of scikit-learn's. Per Lloyd run this is 1.1-1.4x scikit-learn's
compiled loop on one thread. Hamerly's bounds (skip the points that cannot have changed
cluster) were tried and were slower: on these features 20-60% of the points stay in doubt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MAX_ITER = 300  # scikit-learn's KMeans max_iter
TOL = 1e-4  # scikit-learn's KMeans tol: relative to the mean variance of the features
# Lloyd sums the clusters over every point again when more than 1/_REFRESH changed cluster,
# else updates the sums with the points that changed.
_REFRESH = 4

# Per cluster: the sum of its members (k x features) and their count (k).
Totals = tuple["np.ndarray", "np.ndarray"]


def standardise(features: np.ndarray) -> np.ndarray:
    """`StandardScaler().fit_transform(features)`: minus the mean, over the population std.

    The variance is the corrected two-pass one scikit-learn computes; a feature whose
    variance is indistinguishable from 0 (scikit-learn's `_is_constant_feature` bound)
    keeps scale 1, so it becomes a column of zeros instead of a division by ~0.
    """
    import numpy as np

    count = len(features)
    mean = features.sum(axis=0) / count
    deviations = features - mean
    correction = deviations.sum(axis=0)
    variance = ((deviations**2).sum(axis=0) - correction**2 / count) / count
    eps = np.finfo(np.float64).eps
    constant = variance <= count * eps * variance + (count * mean * eps) ** 2
    scale = np.where(constant, 1.0, np.sqrt(variance))
    return deviations / scale


@dataclass(frozen=True)
class Points:
    """Data prepared once for any number of Lloyd runs (`Points.of`).

    `centred`: the points minus their `mean` (scikit-learn runs Lloyd on centred data, for
    more accurate distances); `augmented`: `centred` with a column of ones, so one matrix
    product gives ||c||² - 2 x·c; `columns`: `centred` transposed, each feature contiguous
    for `bincount`; `tol`: scikit-learn's tolerance for these points.
    """

    mean: np.ndarray
    centred: np.ndarray
    augmented: np.ndarray
    columns: np.ndarray
    tol: float

    @classmethod
    def of(cls, points: np.ndarray) -> Points:
        import numpy as np

        points = np.asarray(points, dtype=np.float64)
        mean = points.mean(axis=0)
        centred = points - mean
        augmented = np.empty((len(points), points.shape[1] + 1))
        augmented[:, :-1] = centred
        augmented[:, -1] = 1.0
        tol = float(np.mean(np.var(points, axis=0)) * TOL)
        return cls(mean, centred, augmented, np.ascontiguousarray(centred.T), tol)


@dataclass(frozen=True)
class Clustering:
    """A KMeans result: labels 0..k-1, centres (in the points' units), inertia."""

    labels: np.ndarray
    centers: np.ndarray
    inertia: float


def lloyd(points: Points, init: np.ndarray, max_iter: int = MAX_ITER) -> Clustering:
    """Lloyd from the centres `init`: `KMeans(n_clusters=len(init), init=init, n_init=1)`."""
    import numpy as np

    centres = np.asarray(init, dtype=np.float64) - points.mean
    count = len(points.centred)
    distances = np.empty((count, len(centres)))  # preallocated: threads allocating contend
    labels, previous = np.empty(count, dtype=np.intp), np.full(count, -1, dtype=np.intp)
    totals: Totals | None = None
    strict = False
    for _ in range(max_iter):
        _assign(points, centres, distances, labels)
        totals, changed = _totals(points, labels, previous, totals, len(centres))
        moved = _means(points, centres, labels, totals)
        shift = float((np.sqrt(((moved - centres) ** 2).sum(axis=1)) ** 2).sum())
        centres = moved
        if not changed:
            strict = True
            break
        if shift <= points.tol:
            break
        previous[:] = labels
    if not strict:  # the labels of the final centres
        _assign(points, centres, distances, labels)
    return Clustering(labels, centres + points.mean, _inertia(points.centred, centres, labels))


def fit(points: Points, k: int, seed: int, n_init: int) -> Clustering:
    """`KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(points)`.

    The same k-means++ starts (drawn one after the other from one `RandomState(seed)`, from
    the centred points), Lloyd from each; a later run replaces the best so far when its
    inertia is lower and its partition is not the same one relabelled, as scikit-learn's.
    """
    import numpy as np

    state = np.random.RandomState(seed)
    norms = np.einsum("ij,ij->i", points.centred, points.centred)
    best: Clustering | None = None
    for _ in range(n_init):
        start = kmeans_plusplus(points.centred, norms, k, state)
        run = lloyd(points, points.centred[start] + points.mean)
        if best is None or (
            run.inertia < best.inertia and not _same_partition(run.labels, best.labels, k)
        ):
            best = run
    assert best is not None, "n_init must be at least 1"
    return best


def predict(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """The nearest of `centers` to each point: KMeans' `predict` (argmin ||c||² - 2 x·c)."""
    import numpy as np

    distances = points @ (-2 * centers.T)
    distances += np.einsum("ij,ij->i", centers, centers)
    return np.argmin(distances, axis=1)


def kmeans_plusplus(
    centred: np.ndarray, norms: np.ndarray, k: int, state: np.random.RandomState
) -> np.ndarray:
    """Row positions of a k-means++ start: scikit-learn's `_kmeans_plusplus`, unit weights.

    The same operations in the same order as scikit-learn's (so the same rows, checked by
    tests/unit/test_clustering.py), without its input validation, which cost a third of
    the time on 285,714 customers (each candidate's distances are one row over all).
    `centred`: the points minus their mean; `norms`: its squared row norms.
    """
    import numpy as np

    weights = np.ones(len(centred))
    trials = 2 + int(np.log(k))
    indices = np.full(k, -1, dtype=int)
    first = state.choice(len(centred), p=weights / weights.sum())
    indices[0] = first
    closest = squared_distances(centred[[first]], centred, norms[[first]], norms)
    potential = closest @ weights
    for c in range(1, k):
        draws = state.uniform(size=trials) * potential
        candidates = np.searchsorted(np.cumsum(weights * closest), draws)
        np.clip(candidates, None, closest.size - 1, out=candidates)
        distances = squared_distances(centred[candidates], centred, norms[candidates], norms)
        np.minimum(closest, distances, out=distances)
        potentials = distances @ weights.reshape(-1, 1)
        best = int(np.argmin(potentials))
        potential = potentials[best]
        closest = distances[best]
        indices[c] = candidates[best]
    return indices


def squared_distances(
    rows: np.ndarray, cols: np.ndarray, rows_norms: np.ndarray, cols_norms: np.ndarray
) -> np.ndarray:
    """Squared Euclidean distances computed as scikit-learn's `euclidean_distances` does."""
    import numpy as np

    distances = -2 * (rows @ cols.T)
    distances += rows_norms[:, None]
    distances += cols_norms[None, :]
    np.maximum(distances, 0, out=distances)
    return distances


def _assign(points: Points, centres: np.ndarray, distances: np.ndarray, labels: np.ndarray) -> None:
    """Labels of the nearest centre (centred units), into `labels`; `distances` is scratch."""
    import numpy as np

    weights = np.empty((centres.shape[1] + 1, len(centres)))
    weights[:-1] = -2 * centres.T
    weights[-1] = np.einsum("ij,ij->i", centres, centres)
    np.matmul(points.augmented, weights, out=distances)  # ||c||² - 2 x·c
    np.argmin(distances, axis=1, out=labels)


def _totals(
    points: Points, labels: np.ndarray, previous: np.ndarray, totals: Totals | None, k: int
) -> tuple[Totals, int]:
    """Per cluster, the sum and the count of its members; and how many points changed cluster.

    From the points that changed cluster when they are few (after the first iterations, a
    small fraction: adding theirs to the previous totals costs a fraction of summing all),
    else from every point. `totals` (the previous ones) is updated in place.
    """
    import numpy as np

    if totals is None:
        return _sum_all(points, labels, k), len(labels)
    sums, counts = totals
    changed = np.flatnonzero(labels != previous)
    if len(changed) > len(labels) // _REFRESH:
        return _sum_all(points, labels, k), len(changed)
    if len(changed):
        to, away = labels[changed], previous[changed]
        counts += np.bincount(to, minlength=k) - np.bincount(away, minlength=k)
        for j, column in enumerate(points.columns):
            values = column[changed]
            sums[:, j] += np.bincount(to, values, k) - np.bincount(away, values, k)
    return (sums, counts), len(changed)


def _sum_all(points: Points, labels: np.ndarray, k: int) -> Totals:
    """Per cluster, the sum and the count of its members, from every point."""
    import numpy as np

    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.empty((k, len(points.columns)))
    for j, column in enumerate(points.columns):
        sums[:, j] = np.bincount(labels, weights=column, minlength=k)
    return sums, counts


def _means(points: Points, centres: np.ndarray, labels: np.ndarray, totals: Totals) -> np.ndarray:
    """The members' mean of each cluster; an empty one relocated as scikit-learn does."""
    sums, counts = totals
    if counts.all():
        return sums * (1.0 / counts)[:, None]
    sums, counts = sums.copy(), counts.copy()  # the relocation holds for this iteration only
    _relocate_empty(points.centred, centres, labels, sums, counts)
    if counts.all():
        return sums * (1.0 / counts)[:, None]
    return _average_with_empty(sums, counts)


def _relocate_empty(
    centred: np.ndarray,
    centres: np.ndarray,
    labels: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Each empty cluster takes a point, the farthest from their (previous) centres first.

    scikit-learn's `_relocate_empty_clusters_dense`: the point leaves its cluster's sum and
    count and is the new cluster's only member; nothing moves when every point sits on its
    centre (more clusters than distinct points). In place, on `sums` and `counts`.
    """
    import numpy as np

    empty = np.flatnonzero(counts == 0)
    distances = ((centred - centres[labels]) ** 2).sum(axis=1)
    if distances.max() == 0:
        return
    farthest = np.argpartition(distances, -len(empty))[: -len(empty) - 1 : -1]
    for cluster, point in zip(empty, farthest, strict=True):
        old = labels[point]
        sums[old] -= centred[point]
        sums[cluster] = centred[point]
        counts[cluster] = 1.0
        counts[old] -= 1.0


def _average_with_empty(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`sums / counts` where a cluster has members; scikit-learn's `_average_centers` else.

    A cluster still empty (relocation left nobody or took its last point) is put where the
    largest cluster is, in cluster order as scikit-learn does: that cluster's mean, or its
    sum when it comes later and is not averaged yet.
    """
    import numpy as np

    centres = sums.copy()
    largest = int(np.argmax(counts))
    for j, count in enumerate(counts):
        if count > 0:
            centres[j] *= 1.0 / count
        else:
            centres[j] = centres[largest]
    return centres


def _inertia(centred: np.ndarray, centres: np.ndarray, labels: np.ndarray) -> float:
    """The sum of squared distances from each point to its centre (centred units)."""
    return float(((centred - centres[labels]) ** 2).sum())


def _same_partition(labels: np.ndarray, other: np.ndarray, k: int) -> bool:
    """Whether `labels` maps onto `other` label for label (scikit-learn's `_is_same_clustering`)."""
    import numpy as np

    pairs = np.unique(labels * k + other)
    return len(pairs) == len(np.unique(labels))
