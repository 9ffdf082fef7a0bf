-- Shop users (MySQL) as of the latest capture: a full snapshot, so deleted users disappear.
-- E-mails are trimmed and lower-cased: they link a person across the shop and billing.
SELECT
    CAST(user_id AS INTEGER) AS user_id,
    lower(trim(email)) AS email,
    trim(full_name) AS full_name,
    CAST(country AS VARCHAR) AS country,
    CAST(created_at AS TIMESTAMP) AS created_at
FROM raw.shop.users
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.shop.users)
