-- Weekdays (Mon–Fri) against weekends (Sat–Sun): always 2 rows, rolled up from
-- refined.sales_by_day. share_of_total_amount_pct = 100 * segment amount / all amount,
-- rounded half-up.
WITH segments AS (
    SELECT * FROM (VALUES ('weekday'), ('weekend')) AS s(segment)
),
sales AS (
    SELECT
        CASE WHEN isodow(sale_date) >= 6 THEN 'weekend' ELSE 'weekday' END AS segment,
        CAST(sum(tracks_sold) AS BIGINT) AS tracks_sold,
        CAST(sum(invoices) AS BIGINT) AS invoices,
        CAST(sum(total_amount) AS DECIMAL(18, 2)) AS total_amount,
        count(*) AS sales_days
    FROM refined.sales_by_day
    GROUP BY ALL
),
grand AS (
    SELECT CAST(coalesce(sum(total_amount), 0) * 100 AS BIGINT) AS all_cents
    FROM refined.sales_by_day
)
SELECT
    g.segment,
    coalesce(s.tracks_sold, 0) AS tracks_sold,
    coalesce(s.invoices, 0) AS invoices,
    coalesce(s.total_amount, CAST(0 AS DECIMAL(18, 2))) AS total_amount,
    coalesce(s.sales_days, 0) AS sales_days,
    CAST(
        CAST((2 * CAST(s.total_amount * 100 AS BIGINT) // s.sales_days + 1) // 2 AS DECIMAL(18, 0))
        * 0.01 AS DECIMAL(18, 2)
    ) AS avg_amount_per_sales_day,
    CAST(
        CAST(
            (20000 * CAST(coalesce(s.total_amount, 0) * 100 AS BIGINT) // t.all_cents + 1) // 2
            AS DECIMAL(18, 0)
        ) * 0.01 AS DECIMAL(18, 2)
    ) AS share_of_total_amount_pct
FROM segments AS g
LEFT JOIN sales AS s ON s.segment = g.segment
CROSS JOIN grand AS t
