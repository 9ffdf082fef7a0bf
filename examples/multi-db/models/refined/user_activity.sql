-- App activity per shop user: sessions and events (MongoDB) with the user's orders (MySQL).
-- Anonymous sessions and events (no user_id) are left out; users without any activity
-- have zeros and NULL times. pages_per_session is rounded half up to 2 decimals, exactly.
WITH visits AS (
    SELECT
        user_id,
        count(*) AS sessions,
        sum(pages) AS pages,
        min(started_at) AS first_seen,
        max(coalesce(ended_at, started_at)) AS last_seen
    FROM trusted.sessions
    WHERE user_id IS NOT NULL
    GROUP BY user_id
),
actions AS (
    SELECT
        user_id,
        count(*) AS events,
        count(*) FILTER (WHERE kind = 'purchase') AS purchases,
        sum(amount) AS purchase_amount
    FROM trusted.events
    WHERE user_id IS NOT NULL
    GROUP BY user_id
),
ordered AS (
    SELECT user_id, count(*) AS orders
    FROM trusted.orders
    GROUP BY user_id
)
SELECT
    u.user_id,
    u.email,
    CAST(coalesce(v.sessions, 0) AS BIGINT) AS sessions,
    CAST(coalesce(v.pages, 0) AS BIGINT) AS pages,
    CAST(
        CAST((200 * v.pages // v.sessions + 1) // 2 AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 2)
    ) AS pages_per_session,
    CAST(coalesce(a.events, 0) AS BIGINT) AS events,
    CAST(coalesce(a.purchases, 0) AS BIGINT) AS purchases,
    CAST(coalesce(a.purchase_amount, 0) AS DECIMAL(14, 2)) AS purchase_amount,
    CAST(coalesce(o.orders, 0) AS BIGINT) AS shop_orders,
    v.first_seen,
    v.last_seen
FROM trusted.users AS u
LEFT JOIN visits AS v ON v.user_id = u.user_id
LEFT JOIN actions AS a ON a.user_id = u.user_id
LEFT JOIN ordered AS o ON o.user_id = u.user_id
