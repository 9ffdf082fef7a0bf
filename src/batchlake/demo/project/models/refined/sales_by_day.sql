-- Sales per calendar date that has at least one invoice. Money is exact DECIMAL; ratios
-- are rounded half-up to 2 decimals from exact integer cents:
-- round_half_up(n / d, 2) = ((200 * n_cents // d) + 1) // 2 hundredths, for n, d >= 0.
WITH days AS (
    SELECT
        sale_date,
        CAST(coalesce(sum(quantity), 0) AS BIGINT) AS tracks_sold,
        count(DISTINCT invoice_id) AS invoices,
        count(DISTINCT customer_id) AS unique_customers,
        CAST(coalesce(sum(amount), 0) AS DECIMAL(18, 2)) AS total_amount
    FROM trusted.sales
    GROUP BY sale_date
)
SELECT
    sale_date,
    tracks_sold,
    invoices,
    unique_customers,
    total_amount,
    CAST(
        CAST((2 * CAST(total_amount * 100 AS BIGINT) // invoices + 1) // 2 AS DECIMAL(18, 0))
        * 0.01 AS DECIMAL(18, 2)
    ) AS avg_ticket,
    dayname(sale_date) AS weekday,
    CAST(month(sale_date) AS INTEGER) AS month,
    CAST(year(sale_date) AS INTEGER) AS year,
    CAST(quarter(sale_date) AS INTEGER) AS quarter
FROM days
