-- Invoices (PostgreSQL), one row per invoice_id: captured incrementally by updated_at,
-- the latest batch wins (an invoice goes from open to paid or void).
SELECT
    CAST(invoice_id AS INTEGER) AS invoice_id,
    CAST(customer_id AS INTEGER) AS customer_id,
    CAST(issued_at AS TIMESTAMP) AS issued_at,
    CAST(due_date AS DATE) AS due_date,
    CAST(amount AS DECIMAL(12, 2)) AS amount,
    status,
    CAST(updated_at AS TIMESTAMP) AS updated_at
FROM raw.billing.invoices
QUALIFY row_number() OVER (PARTITION BY invoice_id ORDER BY _batch_id DESC, updated_at DESC) = 1
