-- Carts, one row per cart id: captured incrementally (a cart may come in several
-- batches), the latest batch wins. Dates are ISO-8601 text with a zone: read as UTC.
SELECT
    CAST(id AS INTEGER) AS cart_id,
    CAST(userId AS INTEGER) AS user_id,
    timezone('UTC', CAST(date AS TIMESTAMPTZ)) AS cart_date,
    CAST(len(products) AS INTEGER) AS lines
FROM raw.store.carts
QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch_id DESC) = 1
