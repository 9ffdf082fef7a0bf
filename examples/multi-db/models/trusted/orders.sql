-- Shop orders (MySQL), one row per order_id. Orders are captured incrementally by
-- updated_at, so a changed order is in several batches: the latest batch wins.
SELECT
    CAST(order_id AS INTEGER) AS order_id,
    CAST(user_id AS INTEGER) AS user_id,
    CAST(product_id AS INTEGER) AS product_id,
    CAST(quantity AS INTEGER) AS quantity,
    CAST(amount AS DECIMAL(12, 2)) AS amount,
    status,
    CAST(created_at AS TIMESTAMP) AS created_at,
    CAST(updated_at AS TIMESTAMP) AS updated_at
FROM raw.shop.orders
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _batch_id DESC, updated_at DESC) = 1
