"""KMeans fitting shared by both segmentation backends (scikit-learn and Spark MLlib).

`segmentation` and `segmentation_spark` import it; it imports neither, only `kmeans` (the
NumPy KMeans).

Two methods fit KMeans for every k of a range and score each fit by its silhouette:

- ``"exhaustive"``: for every k, `n_init` k-means++ starts (scikit-learn's
  `KMeans(random_state=seed)` sequence), Lloyd from each over every customer, the lowest
  inertia kept; the silhouette of each k. The reference: 7 k x 10 starts = 70 full fits.
- ``"screened"`` (`screened_fit`): the exhaustive fit where it matters, estimates
  elsewhere. Up to `SCREEN_ABOVE` customers it *is* the exhaustive fit (`exhaustive_fit`:
  the same fits, shared out between threads). Above:

  1. *Estimate*: for every k, `KMeans(random_state=seed, n_init)` on a seeded sample of
     `FIT_SAMPLE // 2` customers; its centres assign everyone, and the silhouette of that
     assignment estimates the silhouette of k.
  2. *Refit the contenders*: every k whose estimate is within `MARGIN` of the best is
     fitted from the exhaustive fit's own starts: the same `n_init` k-means++ starts,
     drawn over every customer (`kmeans_start`); Lloyd from each on a seeded sample of
     `FIT_SAMPLE` customers ranks them (cheap), and the `CONFIRM` best (one) are run
     over every customer, the lowest inertia kept. When the exhaustive fit's best start
     is among them, the result is the exhaustive fit of that k, exactly. (Confirming the
     two best costs about 1 s more at 285,714 customers; at 51,769 it found the
     exhaustive partition where one start found a neighbouring optimum, ARI 0.991:
     docs/benchmarks.md.)
  3. The silhouettes of the refitted k are taken again; should a k that was not refitted
     have an estimate within `MARGIN` of the best refitted one, it is refitted too. So the
     chosen k is always a refitted one with the best silhouette of the metrics.

  Above `SCREEN_ABOVE` this path imports neither scikit-learn nor SciPy: the estimates
  and the rankings on the sample are `batchlake.analytics.kmeans` (NumPy: k-means++,
  Lloyd and `KMeans(n_init)` computed as scikit-learn computes them, the same partitions
  up to rounding, tests/unit/test_kmeans.py), and so is the sklearn backend's Lloyd over
  every customer. Importing scikit-learn (sklearn.cluster -> scipy.stats, scipy.sparse,
  pandas) cost ~4.3 s of the 8 s the step took at 285,714 customers on a quiet machine:
  more than the fits. The exhaustive fit (`exhaustive_fit`, `method="exhaustive"`) keeps
  scikit-learn: it is the reference.

  The k not refitted keep the estimate: every customer assigned to the sample-fitted
  centres, the inertia over every customer (a little above what a full fit reaches).

  What it does not guarantee: when the ranking on the sample misses the exhaustive fit's
  best start (a start whose Lloyd run ends in a deeper optimum over all customers than on
  the sample), the refit is another local optimum of nearly the same inertia, and the
  partition can differ from the exhaustive one (KMeans on features without a clear
  cluster structure has many such optima). Measured in docs/benchmarks.md.

Silhouettes: above `SILHOUETTE_SAMPLE` customers they are taken over a seeded sample (the
rows scikit-learn's `silhouette_score(sample_size=, random_state=seed)` would pick); the
pairwise distances of that sample are computed once for all the fits scored together
(`silhouettes`), not once per k.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from batchlake.analytics import kmeans

if TYPE_CHECKING:
    import numpy as np

METHODS = ("screened", "exhaustive")

# The silhouette compares every pair of customers (O(n²)): above this many customers it is
# taken over this many, drawn with the seed (as scikit-learn's `sample_size` does).
SILHOUETTE_SAMPLE = 10_000
# "screened": up to this many customers, the exhaustive fit (`exhaustive_fit`), which is as
# fast there (measured: the crossing is between 40,000 and 65,000 customers).
SCREEN_ABOVE = 50_000
# "screened": customers the starts are ranked on (the estimates are fitted on every second
# one of them).
FIT_SAMPLE = 20_000
# "screened": a k is refitted when its silhouette estimate is within this of the best.
MARGIN = 0.015
# "screened": starts run over every customer per refitted k (the best ranked on the sample).
CONFIRM = 1
MAX_THREADS = 4  # threads the fits and the silhouette distances are shared out between
_BLOCK = 2048  # rows per block of pairwise distances

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class KFit:
    """KMeans with k clusters: labels 0..k-1, centres (standardised), inertia, silhouette."""

    k: int
    labels: np.ndarray
    centers: np.ndarray
    inertia: float
    silhouette: float


@dataclass(frozen=True)
class BackendResult:
    scaled: np.ndarray  # the standardised features
    fits: list[KFit]
    components: np.ndarray  # n x 2: the first two principal components of `scaled`


# Lloyd over every customer from the given starting centres (standardised): returns the
# labels, the centres and the inertia. scikit-learn's or MLlib's, per backend.
Lloyd = Callable[[int, "np.ndarray"], tuple["np.ndarray", "np.ndarray", float]]


def silhouette_rows(count: int, seed: int) -> np.ndarray | None:
    """Positions (sorted) of the customers the silhouette is taken over; None for all."""
    import numpy as np

    if count <= SILHOUETTE_SAMPLE:
        return None
    return np.sort(np.random.RandomState(seed).choice(count, SILHOUETTE_SAMPLE, replace=False))


def screens(count: int) -> bool:
    """Whether "screened" screens `count` customers (else it is the exhaustive fit)."""
    return count > SCREEN_ABOVE


def fit_rows(count: int, seed: int) -> np.ndarray | None:
    """Positions (sorted) of the customers "screened" fits its estimates on; None for all.

    Drawn from another stream than `silhouette_rows`, so the silhouette is not taken over
    the very customers the centres were fitted on.
    """
    import numpy as np

    if count <= FIT_SAMPLE:
        return None
    return np.sort(np.random.RandomState(seed + 1).choice(count, FIT_SAMPLE, replace=False))


def kmeans_starts(scaled: np.ndarray, k: int, seed: int, n_init: int) -> list[np.ndarray]:
    """Row positions of the `n_init` k-means++ starts `KMeans(random_state=seed)` draws.

    scikit-learn draws them from the centred data, one `RandomState(seed)` for the fit,
    one start after the other: so do we, so a start run here is that fit's start.
    """
    import numpy as np
    from sklearn.cluster import kmeans_plusplus
    from sklearn.utils.extmath import row_norms

    centred = scaled - scaled.mean(axis=0)
    norms = row_norms(centred, squared=True)
    state = np.random.RandomState(seed)
    return [
        kmeans_plusplus(centred, k, random_state=state, x_squared_norms=norms)[1]
        for _ in range(n_init)
    ]


def kmeans_start(
    centred: np.ndarray, norms: np.ndarray, k: int, seed: int, index: int
) -> np.ndarray:
    """Start number `index` of `kmeans_starts`, drawn without drawing the ones before.

    A k-means++ start takes a fixed count of numbers from the RandomState: one for the
    first centre, then `2 + int(log k)` candidates for each other centre. Skipping the
    earlier starts' numbers gives the same start, so the starts can be drawn in parallel.
    `centred`: the standardised features minus their mean; `norms`: its squared row norms.
    """
    import numpy as np

    state = np.random.RandomState(seed)
    state.random_sample(index * (1 + (k - 1) * (2 + int(np.log(k)))))
    return kmeans.kmeans_plusplus(centred, norms, k, state)


def silhouettes(points: np.ndarray, labelings: Mapping[int, np.ndarray]) -> dict[int, float]:
    """Mean Euclidean silhouette of each labeling of the same points (key -> score).

    The definition of scikit-learn's `silhouette_score`: for a point, a is the mean
    distance to the other members of its cluster, b the lowest mean distance to the
    members of another cluster, s = (b - a) / max(a, b), 0 for a point alone in its
    cluster; -1 for a labeling with a single cluster (no silhouette). The pairwise
    distances are computed once, in blocks (each pair once, the blocks shared out between
    threads), and summed per cluster of every labeling by one matrix product.
    """
    import numpy as np

    keys = list(labelings)
    count = len(points)
    widths = [int(labelings[key].max()) + 1 for key in keys]
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
    members = np.zeros((count, int(offsets[-1])))
    for key, offset in zip(keys, offsets, strict=False):
        members[np.arange(count), offset + labelings[key]] = 1.0
    starts = range(0, count, _BLOCK)
    pairs = [(i, j) for i in starts for j in starts if j >= i]
    shares = [pairs[n :: _threads()] for n in range(min(_threads(), len(pairs)))]
    # point x cluster: the sum of the distances from the point to the cluster's members
    sums, *others = _in_parallel(partial(_distance_sums, points, members), shares)
    for other in others:
        sums += other
    scores: dict[int, float] = {}
    for key, offset, width in zip(keys, offsets, widths, strict=False):
        labels = labelings[key]
        sizes = members[:, offset : offset + width].sum(axis=0)
        if np.count_nonzero(sizes) < 2:
            scores[key] = -1.0
            continue
        totals = sums[:, offset : offset + width]
        own = sizes[labels]
        a = totals[np.arange(count), labels] / np.maximum(own - 1, 1)
        means = totals / np.where(sizes > 0, sizes, 1)
        means[:, sizes == 0] = np.inf  # clusters with no member in the sample
        means[np.arange(count), labels] = np.inf
        b = means.min(axis=1)
        score = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-300), 0.0)
        scores[key] = float(score.mean())
    return scores


def _distance_sums(
    points: np.ndarray, members: np.ndarray, pairs: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Per point and cluster, the sum of distances to the members, over blocks i <= j."""
    import numpy as np

    count = len(points)
    norms = np.einsum("ij,ij->i", points, points)
    sums = np.zeros_like(members)
    for i, j in pairs:
        rows, cols = slice(i, min(i + _BLOCK, count)), slice(j, min(j + _BLOCK, count))
        distances = kmeans.squared_distances(points[rows], points[cols], norms[rows], norms[cols])
        np.sqrt(distances, out=distances)
        if i == j:
            np.fill_diagonal(distances, 0.0)
        sums[rows] += distances @ members[cols]
        if i != j:
            sums[cols] += distances.T @ members[rows]
    return sums


def exhaustive_fit(scaled: np.ndarray, ks: Sequence[int], seed: int, n_init: int) -> list[KFit]:
    """The exhaustive fit, its KMeans shared out between threads ("screened" up to SCREEN_ABOVE).

    The same `KMeans(random_state=seed, n_init)` per k as `method="exhaustive"`, one k per
    thread instead of each Lloyd iteration split between OpenMP threads, and the
    silhouettes of all k from one pass over the pairwise distances (`silhouettes`).
    """
    from sklearn.cluster import KMeans

    rows = silhouette_rows(len(scaled), seed)

    def fit(k: int) -> KFit:
        model = KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(scaled)
        return KFit(k, model.labels_, model.cluster_centers_, float(model.inertia_), -1.0)

    with _one_thread_each():
        fits = _in_parallel(fit, ks)
        scored = scaled if rows is None else scaled[rows]
        scores = silhouettes(
            scored, {f.k: f.labels if rows is None else f.labels[rows] for f in fits}
        )
    return [_scored(f, scores[f.k]) for f in fits]


def screened_fit(
    scaled: np.ndarray,
    ks: Sequence[int],
    seed: int,
    n_init: int,
    lloyd: Lloyd,
) -> list[KFit]:
    """The "screened" method above `SCREEN_ABOVE` customers (see the module); fits per k."""
    count = len(scaled)
    fitted = fit_rows(count, seed)
    rows = silhouette_rows(count, seed)
    sample = scaled if fitted is None else scaled[fitted]
    scored = scaled if rows is None else scaled[rows]

    def at_rows(labels: np.ndarray) -> np.ndarray:
        return labels if rows is None else labels[rows]

    halves = kmeans.Points.of(sample[::2])

    def estimate(k: int) -> KFit:
        centers = kmeans.fit(halves, k, seed, n_init).centers
        labels = kmeans.predict(scaled, centers)
        return KFit(k, labels, centers, float(((scaled - centers[labels]) ** 2).sum()), -1.0)

    with _one_thread_each():
        estimates = dict(zip(ks, _in_parallel(estimate, ks), strict=True))
        scores = silhouettes(scored, {k: at_rows(f.labels) for k, f in estimates.items()})
        fits = dict(estimates)
        refitted: set[int] = set()
        best = max(scores.values())
        while due := [k for k in ks if k not in refitted and scores[k] >= best - MARGIN]:
            refits = _refits(scaled, sample, due, seed=seed, n_init=n_init, lloyd=lloyd)
            fits.update(zip(due, refits, strict=True))
            scores.update(silhouettes(scored, {k: at_rows(fits[k].labels) for k in due}))
            refitted.update(due)
            best = max(scores[k] for k in refitted)
    return [_scored(fits[k], scores[k]) for k in ks]


def _scored(fit: KFit, silhouette: float) -> KFit:
    return KFit(fit.k, fit.labels, fit.centers, fit.inertia, silhouette)


def _refits(
    scaled: np.ndarray,
    sample: np.ndarray,
    ks: Sequence[int],
    *,
    seed: int,
    n_init: int,
    lloyd: Lloyd,
) -> list[KFit]:
    """Each k fitted from the exhaustive fit's starts: ranked on the sample, the best confirmed.

    Two rounds of tasks shared out between threads: every (k, start) drawn and run on the
    sample; then the `CONFIRM` best starts of each k run over every customer.
    """
    import numpy as np

    centred = scaled - scaled.mean(axis=0)
    norms = np.einsum("ij,ij->i", centred, centred)
    ranked = kmeans.Points.of(sample)

    def screen(task: tuple[int, int]) -> tuple[np.ndarray, float]:
        k, index = task
        start = kmeans_start(centred, norms, k, seed, index)
        return start, kmeans.lloyd(ranked, scaled[start]).inertia

    tasks = [(k, index) for k in ks for index in range(n_init)]
    screened = dict(zip(tasks, _in_parallel(screen, tasks), strict=True))
    # In start order: on equal inertia the earlier start stays, as in KMeans(n_init).
    confirmed = [
        (k, index)
        for k in ks
        for index in sorted(sorted(range(n_init), key=lambda i: screened[k, i][1])[:CONFIRM])
    ]
    runs = _in_parallel(lambda task: lloyd(task[0], scaled[screened[task][0]]), confirmed)
    best: dict[int, KFit] = {}
    for (k, _), (labels, centers, inertia) in zip(confirmed, runs, strict=True):
        if k not in best or inertia < best[k].inertia:
            best[k] = KFit(k, labels, centers, inertia, -1.0)
    return [best[k] for k in ks]


def _threads() -> int:
    """Worker threads: one per core, at most `MAX_THREADS`."""
    import os

    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


@contextmanager
def _one_thread_each() -> Iterator[None]:
    """BLAS and OpenMP on one thread in this thread: the work is shared out by `_in_parallel`.

    scikit-learn's KMeans splits every Lloyd iteration between OpenMP threads; on 10,000
    customers an iteration is too short for that to pay, and on a busy machine the threads
    spin waiting for each other (measured: 25x the CPU time of one thread). Whole fits are
    handed to threads instead.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _in_parallel(work: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """`work` on each item, in `_threads()` threads (OpenMP on one thread in each)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    def alone(item: _T) -> _R:
        with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP's setting is per thread
            return work(item)

    if len(items) <= 1 or _threads() == 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(_threads(), len(items))) as pool:
        return list(pool.map(alone, items))
