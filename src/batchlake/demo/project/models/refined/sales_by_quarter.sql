-- Sales per quarter ('YYYY-Qn'), ranked overall and within the year (RANK() by amount).
WITH quarters AS (
    SELECT
        CAST(year(sale_date) AS INTEGER) AS year,
        CAST(quarter(sale_date) AS INTEGER) AS quarter,
        CAST(coalesce(sum(amount), 0) AS DECIMAL(18, 2)) AS total_amount,
        CAST(coalesce(sum(quantity), 0) AS BIGINT) AS tracks_sold,
        count(DISTINCT invoice_id) AS invoices
    FROM trusted.sales
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
