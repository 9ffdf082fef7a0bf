"""Segment labels say what a segment's customers buy: the genre that dominates, with its
share, and a rare genre that stands out only as "above average"."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from batchlake.analytics.segmentation import FEATURES, segment_customers

GENRES = {
    "pct_rock": "Rock",
    "pct_metal": "Metal",
    "pct_jazz": "Jazz",
    "pct_latin": "Latin",
    "pct_blues": "Blues",
    "pct_classical": "Classical",
    "pct_other": "Other genres",
}


def customers(seed: int = 11) -> pa.Table:
    """Two kinds of customers: Rock fans who buy a little Classical (2%, where everyone
    else buys none), and customers of other genres. Shares in percent, summing to 100."""
    rng = np.random.default_rng(seed)
    rows = []
    for kind, count in (("rock", 30), ("other", 30)):
        for _ in range(count):
            shares = dict.fromkeys(GENRES, 0.0)
            if kind == "rock":
                shares |= {"pct_rock": 70 + rng.normal(0, 3), "pct_classical": 2.0}
                shares["pct_metal"] = 100 - shares["pct_rock"] - 2.0
            else:
                shares |= {"pct_other": 75 + rng.normal(0, 3)}
                shares["pct_latin"] = 100 - shares["pct_other"]
            rows.append(
                {
                    "total_purchases": 5 + rng.normal(0, 1),
                    "total_spent": 20 + rng.normal(0, 2),
                    "avg_track_price": 0.99,
                    "avg_track_seconds": 240 + rng.normal(0, 5),
                    "unique_genres": 3 + rng.normal(0, 0.3),
                    **shares,
                }
            )
    columns = {"customer_id": pa.array(range(1, len(rows) + 1), pa.int64())}
    columns |= {name: pa.array([r[name] for r in rows]) for name in FEATURES}
    return pa.table(columns)


def test_a_rare_genre_is_never_named_as_if_it_dominated() -> None:
    profiles = segment_customers(customers(), k_min=2, k_max=2, seed=1)["profiles"].to_pylist()
    (rock,) = [p["label"] for p in profiles if p["label"].startswith("Rock ")]
    assert "Classical above average" in rock  # 2% of purchases: above average, not "Classical"
    assert [p for p in profiles if p["label"].startswith("Other genres ")]
    for profile in profiles:
        shares = {g: profile[f"mean_{g}"] for g in GENRES}
        dominant = max(shares, key=lambda g: shares[g])
        first = profile["label"].split(" · ")[0]
        assert first == f"{GENRES[dominant]} {shares[dominant]:.0f}%", profile
        named = [
            part
            for part in profile["label"].split(" · ")[1:]
            if part.split()[0] in {name.split()[0] for name in GENRES.values()}
        ]
        assert all(part.endswith("above average") for part in named), profile["label"]
