-- App log entries per month (UTC) and level: how many, from how many distinct users, and
-- the latency in milliseconds (mean and maximum).
SELECT
    CAST(date_trunc('month', logged_at) AS DATE) AS month,
    level,
    count(*) AS entries,
    count(DISTINCT user_id) AS users,
    avg(latency_ms) AS avg_latency_ms,
    max(latency_ms) AS max_latency_ms
FROM trusted.logs
GROUP BY ALL
