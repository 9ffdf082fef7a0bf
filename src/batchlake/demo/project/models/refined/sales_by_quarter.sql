-- Sales per quarter ('YYYY-Qn'), ranked overall and within the year (RANK() by amount).
-- Rolled up from refined.sales_by_day (each invoice belongs to one date).
WITH quarters AS (
    SELECT
        year,
        quarter,
        CAST(sum(total_amount) AS DECIMAL(18, 2)) AS total_amount,
        CAST(sum(tracks_sold) AS BIGINT) AS tracks_sold,
        CAST(sum(invoices) AS BIGINT) AS invoices
    FROM refined.sales_by_day
    GROUP BY ALL
),
ranked AS (
    SELECT
        *,
        CAST(rank() OVER (ORDER BY total_amount DESC) AS INTEGER) AS rank_overall,
        CAST(rank() OVER (PARTITION BY year ORDER BY total_amount DESC) AS INTEGER)
            AS rank_within_year
    FROM quarters
)
SELECT
    CAST(year AS VARCHAR) || '-Q' || CAST(quarter AS VARCHAR) AS quarter_label,
    year,
    quarter,
    total_amount,
    tracks_sold,
    invoices,
    rank_overall,
    rank_within_year,
    rank_within_year = 1 AS is_best_in_year,
    rank_overall = 1 AS is_best_overall
FROM ranked
