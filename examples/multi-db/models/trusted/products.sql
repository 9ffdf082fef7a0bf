-- Shop products (MySQL) as of the latest capture, prices exact.
SELECT
    CAST(product_id AS INTEGER) AS product_id,
    sku,
    name,
    category,
    CAST(price AS DECIMAL(10, 2)) AS price
FROM raw.shop.products
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.shop.products)
