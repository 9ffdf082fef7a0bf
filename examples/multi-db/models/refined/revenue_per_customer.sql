-- Revenue per person across the shop (MySQL) and billing (PostgreSQL), one row per e-mail
-- (trimmed, lower case: see trusted.users and trusted.customers). A person with two shop
-- accounts, or in both systems, is one row; `systems` says where they were found.
-- shop_revenue: orders paid or shipped. invoiced: invoices not void. billing_paid: the
-- payments received. total_revenue = shop_revenue + billing_paid, ranked (ties share).
WITH shop AS (
    SELECT
        u.email,
        arg_min(u.full_name, u.user_id) AS name,
        count(DISTINCT u.user_id) AS accounts,
        count(o.order_id) FILTER (WHERE o.status IN ('paid', 'shipped')) AS orders,
        sum(o.amount) FILTER (WHERE o.status IN ('paid', 'shipped')) AS revenue
    FROM trusted.users AS u
    LEFT JOIN trusted.orders AS o ON o.user_id = u.user_id
    GROUP BY u.email
),
received AS (
    SELECT invoice_id, sum(amount) AS paid
    FROM trusted.payments
    GROUP BY invoice_id
),
billing AS (
    SELECT
        c.email,
        arg_min(c.full_name, c.customer_id) AS name,
        count(DISTINCT c.customer_id) AS accounts,
        count(i.invoice_id) FILTER (WHERE i.status <> 'void') AS invoices,
        sum(i.amount) FILTER (WHERE i.status <> 'void') AS invoiced,
        sum(r.paid) AS paid
    FROM trusted.customers AS c
    LEFT JOIN trusted.invoices AS i ON i.customer_id = c.customer_id
    LEFT JOIN received AS r ON r.invoice_id = i.invoice_id
    GROUP BY c.email
),
people AS (
    SELECT
        coalesce(b.email, s.email) AS email,
        coalesce(b.name, s.name) AS name,
        CASE
            WHEN s.email IS NULL THEN 'billing'
            WHEN b.email IS NULL THEN 'shop'
            ELSE 'both'
        END AS systems,
        CAST(coalesce(s.accounts, 0) AS BIGINT) AS shop_accounts,
        CAST(coalesce(s.orders, 0) AS BIGINT) AS shop_orders,
        CAST(coalesce(s.revenue, 0) AS DECIMAL(14, 2)) AS shop_revenue,
        CAST(coalesce(b.accounts, 0) AS BIGINT) AS billing_accounts,
        CAST(coalesce(b.invoices, 0) AS BIGINT) AS invoices,
        CAST(coalesce(b.invoiced, 0) AS DECIMAL(14, 2)) AS invoiced,
        CAST(coalesce(b.paid, 0) AS DECIMAL(14, 2)) AS billing_paid
    FROM shop AS s
    FULL OUTER JOIN billing AS b ON b.email = s.email
)
SELECT
    *,
    CAST(shop_revenue + billing_paid AS DECIMAL(14, 2)) AS total_revenue,
    CAST(rank() OVER (ORDER BY shop_revenue + billing_paid DESC) AS INTEGER) AS rank
FROM people
