-- Users ranked by what their carts are worth (quantity × current price), with their cart
-- count, units and favourite category (most units; ties go to the first name). Users
-- without carts are listed with zeros and no rank.
WITH lines AS (
    SELECT l.user_id, l.cart_id, l.quantity, p.category,
        CAST(l.quantity * p.price AS DECIMAL(14, 2)) AS revenue
    FROM trusted.cart_lines AS l
    JOIN trusted.products AS p ON p.product_id = l.product_id
),
per_user AS (
    SELECT
        user_id,
        count(DISTINCT cart_id) AS carts,
        CAST(sum(quantity) AS BIGINT) AS units,
        CAST(sum(revenue) AS DECIMAL(14, 2)) AS spent
    FROM lines
    GROUP BY user_id
),
favourite AS (
    SELECT user_id, category
    FROM lines
    GROUP BY user_id, category
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY sum(quantity) DESC, category) = 1
)
SELECT
    u.user_id,
    u.username,
    u.full_name,
    u.city,
    CAST(coalesce(p.carts, 0) AS BIGINT) AS carts,
    CAST(coalesce(p.units, 0) AS BIGINT) AS units,
    CAST(coalesce(p.spent, 0) AS DECIMAL(14, 2)) AS spent,
    f.category AS favourite_category,
    CAST(CASE WHEN p.user_id IS NOT NULL THEN rank() OVER (
        ORDER BY p.spent DESC NULLS LAST
    ) END AS INTEGER) AS rank
FROM trusted.users AS u
LEFT JOIN per_user AS p ON p.user_id = u.user_id
LEFT JOIN favourite AS f ON f.user_id = u.user_id
