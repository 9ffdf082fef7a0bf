-- One row per customer: purchase behaviour and genre mix, the features of segmentation.
-- Percentages are 100 * tracks of the genre / tracks bought (genre name matched exactly),
-- rounded half-up from exact integers; averages and percentages are NULL without purchases.
WITH per_customer AS (
    SELECT
        customer_id,
        count(DISTINCT invoice_id) AS total_purchases,
        CAST(coalesce(sum(amount), 0) AS DECIMAL(18, 2)) AS total_spent,
        CAST(coalesce(sum(quantity), 0) AS BIGINT) AS tracks_bought,
        CAST(sum(CAST(quantity AS BIGINT) * milliseconds) AS BIGINT) AS weighted_ms,
        count(DISTINCT genre_id) AS unique_genres,
        CAST(coalesce(sum(quantity) FILTER (WHERE genre_name = 'Rock'), 0) AS BIGINT) AS rock,
        CAST(coalesce(sum(quantity) FILTER (WHERE genre_name = 'Metal'), 0) AS BIGINT) AS metal,
        CAST(coalesce(sum(quantity) FILTER (WHERE genre_name = 'Jazz'), 0) AS BIGINT) AS jazz,
        CAST(coalesce(sum(quantity) FILTER (WHERE genre_name = 'Latin'), 0) AS BIGINT) AS latin,
        CAST(coalesce(sum(quantity) FILTER (WHERE genre_name = 'Blues'), 0) AS BIGINT) AS blues,
        CAST(coalesce(sum(quantity) FILTER (WHERE genre_name = 'Classical'), 0) AS BIGINT)
            AS classical
    FROM trusted.sales
    GROUP BY customer_id
),
features AS (
    SELECT
        c.customer_id,
        c.first_name,
        c.last_name,
        c.country,
        coalesce(p.total_purchases, 0) AS total_purchases,
        coalesce(p.total_spent, CAST(0 AS DECIMAL(18, 2))) AS total_spent,
        coalesce(p.tracks_bought, 0) AS tracks_bought,
        CAST(p.total_spent * 100 AS BIGINT) AS spent_cents,
        p.weighted_ms,
        coalesce(p.unique_genres, 0) AS unique_genres,
        p.rock, p.metal, p.jazz, p.latin, p.blues, p.classical,
        p.tracks_bought - p.rock - p.metal - p.jazz - p.latin - p.blues - p.classical AS other
    FROM trusted.customers AS c
    LEFT JOIN per_customer AS p ON p.customer_id = c.customer_id
)
SELECT
    customer_id,
    first_name,
    last_name,
    country,
    total_purchases,
    total_spent,
    tracks_bought,
    CAST(CAST((2 * spent_cents // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS avg_track_price,
    CAST(CAST((2 * weighted_ms // (10 * tracks_bought) + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS avg_track_seconds,
    unique_genres,
    CAST(CAST((20000 * rock // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS pct_rock,
    CAST(CAST((20000 * metal // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS pct_metal,
    CAST(CAST((20000 * jazz // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS pct_jazz,
    CAST(CAST((20000 * latin // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS pct_latin,
    CAST(CAST((20000 * blues // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS pct_blues,
    CAST(CAST((20000 * classical // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS pct_classical,
    CAST(CAST((20000 * other // tracks_bought + 1) // 2 AS DECIMAL(18, 0)) * 0.01
        AS DECIMAL(18, 2)) AS pct_other
FROM features
