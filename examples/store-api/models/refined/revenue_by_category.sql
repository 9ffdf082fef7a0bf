-- What the carts are worth per category: cart lines × the product's current price.
-- share_pct is the category's part of all cart revenue, rounded half up (exact integers).
-- Lines whose product is not in the catalogue are counted under category '(unknown)'.
WITH lines AS (
    SELECT
        coalesce(p.category, '(unknown)') AS category,
        l.cart_id,
        l.user_id,
        l.quantity,
        CAST(l.quantity * coalesce(p.price, 0) AS DECIMAL(14, 2)) AS revenue
    FROM trusted.cart_lines AS l
    LEFT JOIN trusted.products AS p ON p.product_id = l.product_id
),
per_category AS (
    SELECT
        category,
        count(DISTINCT cart_id) AS carts,
        count(DISTINCT user_id) AS users,
        count(*) AS lines,
        CAST(sum(quantity) AS BIGINT) AS units,
        CAST(sum(revenue) AS DECIMAL(14, 2)) AS revenue
    FROM lines
    GROUP BY category
)
SELECT
    *,
    CAST(
        CAST(
            (20000 * CAST(revenue * 100 AS BIGINT) // sum(CAST(revenue * 100 AS BIGINT)) OVER ()
            + 1) // 2 AS DECIMAL(18, 0)
        ) * 0.01 AS DECIMAL(6, 2)
    ) AS share_pct,
    CAST(rank() OVER (ORDER BY revenue DESC) AS INTEGER) AS rank
FROM per_category
