-- One row per product line of a cart, unnested from the carts' `products` array
-- ({productId, quantity}), with the line's position in the cart.
WITH latest AS (
    SELECT *
    FROM raw.store.carts
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch_id DESC) = 1
),
lines AS (
    SELECT
        id,
        userId,
        date,
        unnest(products) AS line,
        unnest(range(1, len(products) + 1)) AS line_number
    FROM latest
)
SELECT
    CAST(id AS INTEGER) AS cart_id,
    CAST(line_number AS INTEGER) AS line_number,
    CAST(userId AS INTEGER) AS user_id,
    timezone('UTC', CAST(date AS TIMESTAMPTZ)) AS cart_date,
    CAST(line.productId AS INTEGER) AS product_id,
    CAST(line.quantity AS INTEGER) AS quantity
FROM lines
