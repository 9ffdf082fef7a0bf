-- Stock (MySQL inventory) per product category (store API): units on hand and reserved,
-- what is available to sell, its value at current prices, and how many product ×
-- warehouse rows are at or below their reorder level. Products without stock rows count
-- as stocked nowhere.
SELECT
    p.category,
    count(DISTINCT p.product_id) AS products,
    count(DISTINCT p.product_id) FILTER (WHERE i.on_hand > 0) AS products_in_stock,
    CAST(coalesce(sum(i.on_hand), 0) AS BIGINT) AS on_hand,
    CAST(coalesce(sum(i.reserved), 0) AS BIGINT) AS reserved,
    CAST(coalesce(sum(i.on_hand - i.reserved), 0) AS BIGINT) AS available,
    CAST(coalesce(sum((i.on_hand - i.reserved) * p.price), 0) AS DECIMAL(14, 2))
        AS available_value,
    count(i.product_id) FILTER (WHERE i.on_hand <= i.reorder_level) AS rows_to_reorder
FROM trusted.products AS p
LEFT JOIN trusted.inventory AS i ON i.product_id = p.product_id
GROUP BY p.category
