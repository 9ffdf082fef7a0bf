-- The best month of each year by total amount (the earliest when tied), with every month
-- that shares the best total.
WITH best AS (
    SELECT year, max(total_amount) AS top_amount
    FROM refined.sales_by_month
    GROUP BY year
),
tied AS (
    SELECT m.*
    FROM refined.sales_by_month AS m
    JOIN best AS b ON b.year = m.year AND b.top_amount = m.total_amount
)
SELECT
    year,
    min(month) AS best_month,
    min(total_amount) AS total_amount,
    arg_min(tracks_sold, month) AS tracks_sold,
    arg_min(invoices, month) AS invoices,
    CAST(count(*) AS INTEGER) AS n_tied,
    array_to_string(list_sort(list(month)), ';') AS tied_months
FROM tied
GROUP BY year
