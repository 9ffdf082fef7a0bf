-- Invoice lines, one row per invoice_line_id (the latest captured batch wins).
SELECT
    CAST(invoice_line_id AS INTEGER) AS invoice_line_id,
    CAST(invoice_id AS INTEGER) AS invoice_id,
    CAST(track_id AS INTEGER) AS track_id,
    CAST(unit_price AS DECIMAL(10, 2)) AS unit_price,
    CAST(quantity AS INTEGER) AS quantity
FROM raw.chinook.invoice_line
QUALIFY row_number() OVER (PARTITION BY invoice_line_id ORDER BY _batch_id DESC) = 1
