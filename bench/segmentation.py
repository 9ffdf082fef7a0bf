"""Customer segmentation: the candidate methods against the exhaustive fit, time and quality.

    python bench/segmentation.py [--invoices 200000,2000000] [--real PATH] [--seed 42]
                                 [--workdir /tmp/batchlake-bench-segmentation]
                                 [--candidates NAME,...] [--output FILE] [--smoke]

For real Chinook and each generated store (cached in WORKDIR/cache as core_pipeline.py
caches them), a fresh Chinook project computes refined.customer_features; then, in this
process, on those features with the project's parameters (k 2..8, seed 42, n_init 10):

* every candidate: wall and CPU seconds of the fit (standardised features in, fits of
  every k out), the k it chooses, the adjusted Rand index of its segments against the
  exhaustive fit's, the relative difference of the silhouettes of the chosen k (over the
  same seeded sample), and whether it meets issue 19's bar (same k, ARI >= 0.95,
  silhouette within 1%);
* the step as the project runs it (`batchlake run --select python.customer_segments`,
  recorded seconds), then once more on unchanged features: the runner skips a step whose
  inputs did not change, which is the "skip the refit" candidate.

Candidates (`--candidates`, default all):

* exhaustive: `method="exhaustive"`, the reference (scikit-learn's threading);
* exhaustive-threaded: the same fits, one k per thread, silhouettes from one pass;
* kmeans++-n1, kmeans++-n3: KMeans with 1 or 3 k-means++ starts over every customer;
* sample-assign: KMeans(n_init) on a seeded 20,000-customer sample, everyone assigned;
* sample-lloyd: the same, then Lloyd over every customer from the sample's centres;
* screened: `method="screened"`, the default (batchlake/analytics/clustering.py).

The fit-only candidates run on one thread (threadpoolctl) unless said otherwise; compare
their CPU seconds. ``--smoke``: real Chinook and a 3,000-invoice store (seconds; checks
that the benchmark runs, not figures). Writes the JSON and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pyarrow as pa

from bench import _lake, _report, _segments

BENCH_DIR = Path(__file__).resolve().parent
REAL_CHINOOK = BENCH_DIR.parent.parent / "shared" / "datasets" / "chinook" / "chinook.sqlite"
Fit = Callable[[np.ndarray, list[int], int, int], list[Any]]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", default=None, help="generated stores, comma-separated")
    parser.add_argument("--real", type=Path, default=REAL_CHINOOK, help="real Chinook SQLite")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated stores")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-bench-segmentation"))
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "segmentation.json")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a check, not figures")
    args = parser.parse_args(argv)
    if args.invoices is None:
        args.invoices = "3000" if args.smoke else "200000,2000000"
    return args


# --------------------------------------------------------------------------- candidates


def _one_thread() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _scored(scaled: np.ndarray, seed: int, fits: list[tuple[int, np.ndarray]]) -> list[Any]:
    """KFits with their silhouettes over the seeded silhouette sample (one distance pass)."""
    from batchlake.analytics.clustering import KFit, silhouette_rows, silhouettes

    rows = silhouette_rows(len(scaled), seed)
    points = scaled if rows is None else scaled[rows]
    scores = silhouettes(points, {k: (x if rows is None else x[rows]) for k, x in fits})
    return [KFit(k, labels, np.empty(0), 0.0, scores[k]) for k, labels in fits]


def _kmeans_pp(starts: int) -> Fit:
    def fit(scaled: np.ndarray, ks: list[int], seed: int, n_init: int) -> list[Any]:
        from sklearn.cluster import KMeans

        with _one_thread():
            labels = [
                (k, KMeans(n_clusters=k, random_state=seed, n_init=starts).fit(scaled).labels_)
                for k in ks
            ]
        return _scored(scaled, seed, labels)

    return fit


def _sample(polish: bool) -> Fit:
    def fit(scaled: np.ndarray, ks: list[int], seed: int, n_init: int) -> list[Any]:
        from sklearn.cluster import KMeans

        from batchlake.analytics.clustering import fit_rows

        rows = fit_rows(len(scaled), seed)
        sample = scaled if rows is None else scaled[rows]
        out = []
        with _one_thread():
            for k in ks:
                model = KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(sample)
                if polish:
                    model = KMeans(n_clusters=k, init=model.cluster_centers_, n_init=1).fit(scaled)
                out.append((k, model.predict(scaled)))
        return _scored(scaled, seed, out)

    return fit


def _backend(method: str) -> Fit:
    def fit(scaled: np.ndarray, ks: list[int], seed: int, n_init: int) -> list[Any]:
        from batchlake.analytics.segmentation import sklearn_backend

        return list(sklearn_backend(scaled, ks, seed, n_init, method).fits)

    return fit


def _exhaustive_threaded(scaled: np.ndarray, ks: list[int], seed: int, n_init: int) -> list[Any]:
    from batchlake.analytics.clustering import exhaustive_fit

    return exhaustive_fit(scaled, ks, seed, n_init)


CANDIDATES: dict[str, tuple[str, Fit]] = {
    "exhaustive": ("exhaustive fit, method='exhaustive' (reference)", _backend("exhaustive")),
    "exhaustive-threaded": (
        "exhaustive fit, one k per thread, silhouettes from one pass",
        _exhaustive_threaded,
    ),
    "kmeans++-n1": ("k-means++, 1 start per k, every customer", _kmeans_pp(1)),
    "kmeans++-n3": ("k-means++, 3 starts per k, every customer", _kmeans_pp(3)),
    "sample-assign": ("fit on a 20,000-customer sample, assign everyone", _sample(False)),
    "sample-lloyd": ("fit on the sample, then Lloyd over everyone", _sample(True)),
    "screened": ("screened, method='screened' (the default)", _backend("screened")),
}


# --------------------------------------------------------------------------- datasets


def _features(project: Path, env: dict[str, str], logs: Path) -> pa.Table:
    """refined.customer_features of the project, built by batchlake."""
    from batchlake.analytics.segmentation import FEATURES
    from batchlake.lake import Lake

    _lake.run_measured(
        "features",
        [*_lake.BATCHLAKE, "run", "-p", str(project), "--select", "+refined.customer_features"],
        log_dir=logs,
        env=env,
    )
    columns = ", ".join(("customer_id", *FEATURES))
    return Lake.open(project).query_table(f"SELECT {columns} FROM refined.customer_features")


def _step_seconds(project: Path, env: dict[str, str], logs: Path) -> tuple[float, str]:
    """Recorded seconds and status of the project's segmentation step, run alone."""
    _lake.run_measured(
        "step",
        [*_lake.BATCHLAKE, "run", "-p", str(project), "--select", _lake.SEGMENTATION_STEP],
        log_dir=logs,
        env=env,
    )
    record = _lake.last_run(project)
    step = next(s for s in record.steps if s["step"] == _lake.SEGMENTATION_STEP)
    return float(step["seconds"] or 0.0), str(step["status"])


def _dataset(name: str, db: Path, workdir: Path, say: Any) -> tuple[Path, dict[str, str]]:
    project = workdir / name / "project"
    _lake.fresh_project(project, db)
    return project, _lake.child_env()


def measure(
    name: str, project: Path, env: dict[str, str], chosen: list[str], say: Any
) -> dict[str, Any]:
    """Every candidate on one dataset's features, plus the step as the project runs it."""
    from sklearn.preprocessing import StandardScaler

    from batchlake.analytics.segmentation import FEATURES, choose_k

    logs = project.parent / "logs"
    say(f"[{name}] refined.customer_features ...")
    features = _features(project, env, logs)
    params = _segments.step_params(project)
    ks = list(range(max(2, params["k_min"]), params["k_max"] + 1))
    usable = features.drop_null()
    matrix = np.column_stack([usable.column(c).cast(pa.float64()).to_numpy() for c in FEATURES])
    scaled = StandardScaler().fit_transform(matrix)
    rows: list[dict[str, Any]] = []
    reference: Any = None
    for key in ["exhaustive", *[c for c in chosen if c != "exhaustive"]]:
        label, fit = CANDIDATES[key]
        say(f"[{name}] {key} ...")
        wall, cpu = time.perf_counter(), time.process_time()
        fits = fit(scaled, ks, params["seed"], params["n_init"])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        best = choose_k(fits)
        if reference is None:
            reference = best
        rows.append(_row(key, label, wall, cpu, best, reference))
    say(f"[{name}] the step in the project, then again on unchanged features ...")
    fitted, _ = _step_seconds(project, env, logs)
    skipped, status = _step_seconds(project, env, logs)
    return {
        "dataset": name,
        "customers": features.num_rows,
        "segmented": usable.num_rows,
        "candidates": rows,
        "step_seconds": fitted,
        "step_unchanged_seconds": skipped,
        "step_unchanged_status": status,
    }


def _row(key: str, label: str, wall: float, cpu: float, best: Any, ref: Any) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score

    figures = {
        "k_reference": ref.k,
        "k": best.k,
        "ari": float(adjusted_rand_score(ref.labels, best.labels)),
        "silhouette_reference": ref.silhouette,
        "silhouette": best.silhouette,
        "silhouette_delta": (best.silhouette - ref.silhouette) / abs(ref.silhouette),
    }
    return {
        "candidate": key,
        "label": label,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        **figures,
        "meets_targets": _segments.meets_targets(figures),
    }


# --------------------------------------------------------------------------- report


def tables(results: dict[str, Any]) -> list[_report.Table]:
    out: list[_report.Table] = []
    header = ["candidate", "wall s", "CPU s", "k (exhaustive)", "ARI", "silhouette delta", "bar"]
    for data in results["datasets"]:
        rows = [
            [
                r["label"],
                f"{r['wall_seconds']:.2f}",
                f"{r['cpu_seconds']:.2f}",
                f"{r['k']} ({r['k_reference']})",
                f"{r['ari']:.3f}",
                f"{r['silhouette_delta']:+.2%}",
                "met" if r["meets_targets"] else "MISSED",
            ]
            for r in data["candidates"]
        ]
        rows.append(
            [
                "the step in the project (recorded)",
                f"{data['step_seconds']:.2f}",
                "",
                "",
                "",
                "",
                "",
            ]
        )
        rows.append(
            [
                f"the step again, features unchanged ({data['step_unchanged_status']})",
                f"{data['step_unchanged_seconds']:.2f}",
                "", "", "", "", "",
            ]
        )  # fmt: skip
        title = (
            f"{data['dataset']}: {data['customers']:,} customers, {data['segmented']:,} segmented"
        )
        out.append((title, header, rows))
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    chosen = [c for c in args.candidates.split(",") if c]
    unknown = [c for c in chosen if c not in CANDIDATES]
    if unknown:
        print(f"unknown candidates {unknown}; choose from {', '.join(CANDIDATES)}")
        return 2
    workdir = args.workdir.resolve()
    started = time.time()

    def say(text: str) -> None:
        print(f"{time.time() - started:7.1f}s  {text}", file=sys.stderr, flush=True)

    datasets = []
    if args.real.exists():
        copy = workdir / "cache" / "chinook-real.sqlite"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.real, copy)  # never write to the shared file
        project, env = _dataset("real Chinook", copy, workdir, say)
        datasets.append(measure("real Chinook", project, env, chosen, say))
    else:
        say(f"real Chinook not found at {args.real}: left out")
    for invoices in (int(n) for n in args.invoices.split(",") if n):
        db, _ = _lake.store_database(
            workdir / "cache", invoices=invoices, seed=args.seed, regenerate=False,
            log_dir=workdir / "logs",
        )  # fmt: skip
        name = f"generated, {invoices:,} invoices"
        project, env = _dataset(f"generated-{invoices}", db, workdir, say)
        datasets.append(measure(name, project, env, chosen, say))
    results = {
        "benchmark": "segmentation",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/segmentation.py " + " ".join(sys.argv[1:]),
        "smoke": args.smoke,
        "machine": _report.machine_info(),
        "datasets": datasets,
        "seconds_benchmark": time.time() - started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    markdown = args.output.with_suffix(".md")
    markdown.write_text(
        f"Command: `{results['command']}`\n"
        + "\n".join(_report.markdown_tables(tables(results)))
        + "\n"
    )
    _report.print_rich_tables(tables(results), width=120)
    say(f"wrote {args.output} and {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
