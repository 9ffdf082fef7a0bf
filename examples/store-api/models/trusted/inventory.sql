-- Stock per product and warehouse (MySQL), one row per (product_id, warehouse_id):
-- captured incrementally by updated_at, the latest batch wins.
SELECT
    CAST(i.product_id AS INTEGER) AS product_id,
    CAST(i.warehouse_id AS INTEGER) AS warehouse_id,
    w.name AS warehouse,
    CAST(i.on_hand AS INTEGER) AS on_hand,
    CAST(i.reserved AS INTEGER) AS reserved,
    CAST(i.reorder_level AS INTEGER) AS reorder_level,
    CAST(i.updated_at AS TIMESTAMP) AS updated_at
FROM raw.inventory.inventory AS i
LEFT JOIN (
    SELECT *
    FROM raw.inventory.warehouses
    WHERE _batch_id = (SELECT max(_batch_id) FROM raw.inventory.warehouses)
) AS w ON w.warehouse_id = i.warehouse_id
QUALIFY row_number() OVER (
    PARTITION BY i.product_id, i.warehouse_id ORDER BY i._batch_id DESC, i.updated_at DESC
) = 1
