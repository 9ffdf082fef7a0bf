-- Sales per calendar date that has at least one invoice. Money is exact DECIMAL; ratios
-- are rounded half-up to 2 decimals from exact integer cents:
-- round_half_up(n / d, 2) = ((200 * n_cents // d) + 1) // 2 hundredths, for n, d >= 0.
-- Lines are first summed per invoice, so invoices are counted without a DISTINCT.
WITH per_invoice AS (
    SELECT
        invoice_id,
        sale_date,
        customer_id,
        coalesce(sum(quantity), 0) AS tracks,
        coalesce(sum(amount), 0) AS amount
    FROM trusted.sales
    GROUP BY invoice_id, sale_date, customer_id
),
days AS (
    SELECT
        sale_date,
        CAST(sum(tracks) AS BIGINT) AS tracks_sold,
        count(*) AS invoices,
        count(DISTINCT customer_id) AS unique_customers,
        CAST(sum(amount) AS DECIMAL(18, 2)) AS total_amount
    FROM per_invoice
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
