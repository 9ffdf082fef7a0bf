-- Products of the store API as of the latest capture, typed: the price (a JSON number)
-- becomes an exact DECIMAL, the rating struct two columns.
SELECT
    CAST(id AS INTEGER) AS product_id,
    trim(title) AS title,
    lower(trim(category)) AS category,
    CAST(price AS DECIMAL(10, 2)) AS price,
    CAST(rating.rate AS DECIMAL(3, 1)) AS rating,
    CAST(rating."count" AS INTEGER) AS rating_count
FROM raw.store.products
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.store.products)
QUALIFY row_number() OVER (PARTITION BY id) = 1
