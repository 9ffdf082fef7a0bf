-- Sales per weekday (1 = Monday), always 7 rows; a weekday without sales shows zeros and a
-- NULL average. avg_amount_per_sales_day = total_amount / distinct dates with sales.
-- Rolled up from refined.sales_by_day: an invoice belongs to exactly one date, so summing
-- the daily invoice counts counts each invoice once, and each row is one sales day.
WITH weekdays AS (
    SELECT *
    FROM (
        VALUES (1, 'Monday'), (2, 'Tuesday'), (3, 'Wednesday'), (4, 'Thursday'),
            (5, 'Friday'), (6, 'Saturday'), (7, 'Sunday')
    ) AS w(weekday_number, weekday)
),
sales AS (
    SELECT
        CAST(isodow(sale_date) AS INTEGER) AS weekday_number,
        CAST(sum(tracks_sold) AS BIGINT) AS tracks_sold,
        CAST(sum(invoices) AS BIGINT) AS invoices,
        CAST(sum(total_amount) AS DECIMAL(18, 2)) AS total_amount,
        count(*) AS sales_days
    FROM refined.sales_by_day
    GROUP BY ALL
)
SELECT
    w.weekday,
    CAST(w.weekday_number AS INTEGER) AS weekday_number,
    coalesce(s.tracks_sold, 0) AS tracks_sold,
    coalesce(s.invoices, 0) AS invoices,
    coalesce(s.total_amount, CAST(0 AS DECIMAL(18, 2))) AS total_amount,
    coalesce(s.sales_days, 0) AS sales_days,
    CAST(
        CAST((2 * CAST(s.total_amount * 100 AS BIGINT) // s.sales_days + 1) // 2 AS DECIMAL(18, 0))
        * 0.01 AS DECIMAL(18, 2)
    ) AS avg_amount_per_sales_day
FROM weekdays AS w
LEFT JOIN sales AS s ON s.weekday_number = w.weekday_number
