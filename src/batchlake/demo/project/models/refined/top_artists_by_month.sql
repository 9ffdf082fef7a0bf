-- For each month ('YYYY-MM'), the top 5 artists by tracks sold. rank is unique (tracks
-- sold descending, then artist name in code-point order, then artist id); rank_with_ties
-- is RANK() on tracks sold. share_pct = 100 * artist tracks / all tracks sold that month.
WITH per_artist AS (
    SELECT
        strftime(sale_date, '%Y-%m') AS month,
        artist_id,
        artist_name,
        CAST(coalesce(sum(quantity), 0) AS BIGINT) AS tracks_sold
    FROM trusted.sales
    WHERE artist_id IS NOT NULL
    GROUP BY ALL
),
month_totals AS (
    SELECT strftime(sale_date, '%Y-%m') AS month, CAST(coalesce(sum(quantity), 0) AS BIGINT) AS all_tracks
    FROM trusted.sales
    GROUP BY ALL
),
ranked AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY month ORDER BY tracks_sold DESC, artist_name ASC NULLS LAST, artist_id
        ) AS rank,
        rank() OVER (PARTITION BY month ORDER BY tracks_sold DESC) AS rank_with_ties
    FROM per_artist
)
SELECT
    r.month,
    CAST(r.rank AS INTEGER) AS rank,
    r.artist_id,
    r.artist_name,
    r.tracks_sold,
    CAST(
        CAST((20000 * r.tracks_sold // t.all_tracks + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)
    ) AS share_pct,
    CAST(r.rank_with_ties AS INTEGER) AS rank_with_ties
FROM ranked AS r
JOIN month_totals AS t ON t.month = r.month
WHERE r.rank <= 5
