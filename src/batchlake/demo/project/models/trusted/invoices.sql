-- Invoices, one row per invoice_id (the latest captured batch wins).
-- Text is trimmed of surrounding whitespace (some copies of the store have "Edinburgh ").
SELECT
    CAST(invoice_id AS INTEGER) AS invoice_id,
    CAST(customer_id AS INTEGER) AS customer_id,
    CAST(invoice_date AS TIMESTAMP) AS invoice_date,
    trim(CAST(billing_address AS VARCHAR)) AS billing_address,
    trim(CAST(billing_city AS VARCHAR)) AS billing_city,
    trim(CAST(billing_state AS VARCHAR)) AS billing_state,
    trim(CAST(billing_country AS VARCHAR)) AS billing_country,
    trim(CAST(billing_postal_code AS VARCHAR)) AS billing_postal_code,
    CAST(total AS DECIMAL(10, 2)) AS total
FROM raw.chinook.invoice
QUALIFY row_number() OVER (PARTITION BY invoice_id ORDER BY _batch_id DESC) = 1
