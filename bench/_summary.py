"""From raw samples to the published figures: medians, ratios with their spread, targets.

Ratios are computed within each repeat (both sides measured minutes apart, under the same
neighbours) and then summarized as median, min and max over repeats; targets are judged
on the median.
"""

from __future__ import annotations

import statistics
from typing import Any

CONTENDERS = (
    "batchlake_run",
    "batchlake_refined",
    "floor",
    "floor_capture",
    "floor_trusted",
    "floor_python",
    "pandas",
)
# The whole run's stages against their floors: (stage figure of the run, floor contender).
STAGE_FLOORS = {
    "capture": ("ingest_seconds", "floor_capture"),
    "trusted": ("trusted_seconds", "floor_trusted"),
    "refined_sql": ("refined_sql_seconds", "floor"),
    "python": ("python_seconds", "floor_python"),
}
REFINED_TARGET = 1.3
SEGMENTATION_TARGET = 1.0  # the segmentation step against the 8 SQL refined models
PANDAS_TARGET = 5.0
RSS_TARGET_BYTES = 3e9


def _numbers(figures: dict[str, Any]) -> list[str]:
    """The numeric figures of a contender (nested ones, such as steps, are left out)."""
    return [k for k, v in figures.items() if isinstance(v, int | float) and not isinstance(v, bool)]


def _median(samples: list[dict[str, Any]], contender: str) -> dict[str, float]:
    """Median over repeats of every numeric figure of one contender (RSS, contention: max)."""
    return {
        k: (max if "rss" in k or k == "contention" else statistics.median)(
            s[contender][k] for s in samples
        )
        for k in _numbers(samples[0][contender])
    }


def ratios_of(sample: dict[str, Any]) -> dict[str, float]:
    """The comparisons of one repeat (see bench/README.md for each definition)."""
    bl, floor, pandas = sample["batchlake_refined"], sample["floor"], sample["pandas"]
    run = sample["batchlake_run"]
    stages = {
        f"run_{stage}_over_floor": run[figure] / sample[contender]["seconds_total"]
        for stage, (figure, contender) in STAGE_FLOORS.items()
    }
    floors = sum(sample[contender]["seconds_total"] for _, contender in STAGE_FLOORS.values())
    return {
        **stages,
        "run_steps_over_floors": sum(run[f] for f, _ in STAGE_FLOORS.values()) / floors,
        "run_recorded_over_floors": run["recorded_seconds"] / floors,
        # CPU seconds of whole processes: steadier than wall time when neighbours differ.
        "run_cpu_over_floors_cpu": run["cpu_seconds"]
        / sum(sample[contender]["cpu_seconds"] for _, contender in STAGE_FLOORS.values()),
        "refined_over_floor": bl["refined_sql_seconds"] / floor["seconds_total"],
        "segmentation_over_refined_sql": bl["segmentation_seconds"] / bl["refined_sql_seconds"],
        "refined_stage_over_floor": bl["refined_seconds"] / floor["seconds_total"],
        "refined_over_floor_wall": bl["wall_seconds"] / floor["wall_seconds"],
        "refined_cpu_over_floor_cpu": bl["cpu_seconds"] / floor["cpu_seconds"],
        "four_over_floor_four": bl["four_analyses_seconds"] / floor["four_analyses_seconds"],
        "pandas_over_four": pandas["seconds_total"] / bl["four_analyses_seconds"],
        "pandas_over_floor_four": pandas["seconds_total"] / floor["four_analyses_seconds"],
        "pandas_over_refined": pandas["seconds_total"] / bl["refined_sql_seconds"],
        "pandas_wall_over_refined_wall": pandas["wall_seconds"] / bl["wall_seconds"],
        "pandas_cpu_over_refined_cpu": pandas["cpu_seconds"] / bl["cpu_seconds"],
    }


def _per_model(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median seconds of each refined model: batchlake's recorded step and the floor's."""
    models: dict[str, dict[str, float]] = {}
    for step in samples[0]["batchlake_refined"]["stage_steps"]["refined_sql"]:
        name = step.split(".", 1)[1]
        models[step] = {
            "batchlake_seconds": statistics.median(
                s["batchlake_refined"]["steps"][step] for s in samples
            ),
            "floor_seconds": statistics.median(
                s["floor"]["models"][name]["seconds"] for s in samples
            ),
            "floor_cpu_seconds": statistics.median(
                s["floor"]["models"][name]["cpu_seconds"] for s in samples
            ),
        }
    return models


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per contender, ratios (median, min, max over repeats) and target verdicts."""
    summary: dict[str, Any] = {c: _median(samples, c) for c in CONTENDERS}
    per_sample = [ratios_of(s) for s in samples]
    ratios = {
        name: {
            "median": statistics.median(r[name] for r in per_sample),
            "min": min(r[name] for r in per_sample),
            "max": max(r[name] for r in per_sample),
        }
        for name in per_sample[0]
    }
    refined = ratios["refined_over_floor"]["median"]
    segmentation = ratios["segmentation_over_refined_sql"]["median"]
    pandas = ratios["pandas_over_four"]["median"]
    run_rss = summary["batchlake_run"]["peak_rss_bytes"]
    targets = {
        "refined_within_1_3x_floor": {
            "target": f"batchlake refined SQL (8 models) <= {REFINED_TARGET}x floor",
            "value": f"{refined:.2f}x",
            "met": refined <= REFINED_TARGET,
        },
        "segmentation_within_sql_refined": {
            "target": f"segmentation step <= {SEGMENTATION_TARGET}x the 8 SQL refined models",
            "value": f"{segmentation:.2f}x",
            "met": segmentation <= SEGMENTATION_TARGET,
        },
        "5x_faster_than_pandas": {
            "target": f"pandas / batchlake four analyses >= {PANDAS_TARGET:.0f}x",
            "value": f"{pandas:.2f}x",
            "met": pandas >= PANDAS_TARGET,
        },
        "run_peak_rss_under_3gb": {
            "target": "batchlake run peak RSS < 3 GB",
            "value": f"{run_rss / 1e9:.2f} GB",
            "met": run_rss < RSS_TARGET_BYTES,
        },
    }
    python = {
        step: statistics.median(s["batchlake_refined"]["steps"][step] for s in samples)
        for step in samples[0]["batchlake_refined"]["stage_steps"]["python"]
    }
    return {
        **summary,
        "ratios": ratios,
        "targets": targets,
        "models": _per_model(samples),
        "python_steps": python,
        "stage_steps": {
            "run": samples[0]["batchlake_run"]["stage_steps"],
            "refined_run": samples[0]["batchlake_refined"]["stage_steps"],
        },
    }
