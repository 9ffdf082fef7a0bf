-- Customers, one row per customer_id (the latest captured batch wins).
-- Text is trimmed of surrounding whitespace (some copies of the store have "Edinburgh ").
SELECT
    CAST(customer_id AS INTEGER) AS customer_id,
    trim(CAST(first_name AS VARCHAR)) AS first_name,
    trim(CAST(last_name AS VARCHAR)) AS last_name,
    trim(CAST(company AS VARCHAR)) AS company,
    trim(CAST(address AS VARCHAR)) AS address,
    trim(CAST(city AS VARCHAR)) AS city,
    trim(CAST(state AS VARCHAR)) AS state,
    trim(CAST(country AS VARCHAR)) AS country,
    trim(CAST(postal_code AS VARCHAR)) AS postal_code,
    trim(CAST(phone AS VARCHAR)) AS phone,
    trim(CAST(fax AS VARCHAR)) AS fax,
    trim(CAST(email AS VARCHAR)) AS email,
    CAST(support_rep_id AS INTEGER) AS support_rep_id
FROM raw.chinook.customer
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _batch_id DESC) = 1
