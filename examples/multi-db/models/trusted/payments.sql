-- Payments received on invoices (PostgreSQL), as of the latest capture.
SELECT
    CAST(payment_id AS INTEGER) AS payment_id,
    CAST(invoice_id AS INTEGER) AS invoice_id,
    CAST(paid_at AS TIMESTAMP) AS paid_at,
    CAST(amount AS DECIMAL(12, 2)) AS amount,
    method
FROM raw.billing.payments
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.billing.payments)
