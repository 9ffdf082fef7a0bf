-- Descriptive statistics of product prices per category. Exact where the data allows:
-- min, max, sum and median are DECIMAL (the median of an even count is the mean of the two
-- middle prices, so it gets a third decimal); mean_price is rounded half up to cents from
-- exact integers; the standard deviation (sample) and the mean rating are DOUBLE.
SELECT
    category,
    count(*) AS products,
    min(price) AS min_price,
    max(price) AS max_price,
    CAST(sum(price) AS DECIMAL(12, 2)) AS total_price,
    CAST(
        CAST((2 * sum(CAST(price * 100 AS BIGINT)) // count(*) + 1) // 2 AS DECIMAL(18, 0))
        * 0.01 AS DECIMAL(12, 2)
    ) AS mean_price,
    median(CAST(price AS DECIMAL(12, 3))) AS median_price,
    stddev_samp(CAST(price AS DOUBLE)) AS stddev_price,
    avg(CAST(rating AS DOUBLE)) AS mean_rating,
    CAST(sum(rating_count) AS BIGINT) AS ratings
FROM trusted.products
GROUP BY category
