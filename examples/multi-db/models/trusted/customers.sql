-- Billing customers (PostgreSQL) as of the latest capture. Billing types e-mails by hand
-- (" Ana.Silva3@MAIL.EXAMPLE "): trimmed and lower-cased here, as in trusted.users.
SELECT
    CAST(customer_id AS INTEGER) AS customer_id,
    lower(trim(email)) AS email,
    trim(full_name) AS full_name,
    company,
    CAST(created_at AS TIMESTAMP) AS created_at
FROM raw.billing.customers
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.billing.customers)
