-- Sales per month ('YYYY-MM') with rankings by total amount over all months, and growth
-- against the previous calendar month (NULL when that month had no sales). Rolled up from
-- refined.sales_by_day (each invoice belongs to one date, hence to one month).
WITH months AS (
    SELECT
        CAST(date_trunc('month', sale_date) AS DATE) AS month_start,
        CAST(sum(total_amount) AS DECIMAL(18, 2)) AS total_amount,
        CAST(sum(tracks_sold) AS BIGINT) AS tracks_sold,
        CAST(sum(invoices) AS BIGINT) AS invoices
    FROM refined.sales_by_day
    GROUP BY ALL
),
growth AS (
    SELECT
        m.*,
        CAST(m.total_amount * 100 AS BIGINT) - CAST(p.total_amount * 100 AS BIGINT) AS delta_cents,
        CAST(p.total_amount * 100 AS BIGINT) AS previous_cents
    FROM months AS m
    LEFT JOIN months AS p ON p.month_start = CAST(m.month_start - INTERVAL 1 MONTH AS DATE)
)
SELECT
    strftime(month_start, '%Y-%m') AS month,
    CAST(year(month_start) AS INTEGER) AS year,
    total_amount,
    tracks_sold,
    invoices,
    CAST(rank() OVER (ORDER BY total_amount DESC) AS INTEGER) AS rank,
    CAST(dense_rank() OVER (ORDER BY total_amount DESC) AS INTEGER) AS dense_rank,
    CAST(row_number() OVER (ORDER BY total_amount DESC, month_start ASC) AS INTEGER) AS row_number,
    CAST(
        CAST(
            sign(delta_cents) * ((20000 * abs(delta_cents) // previous_cents + 1) // 2)
            AS DECIMAL(18, 0)
        ) * 0.01 AS DECIMAL(18, 2)
    ) AS growth_pct
FROM growth
