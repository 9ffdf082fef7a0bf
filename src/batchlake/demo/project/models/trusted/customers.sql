-- Customers, one row per customer_id (the latest captured batch wins).
SELECT
    CAST(customer_id AS INTEGER) AS customer_id,
    CAST(first_name AS VARCHAR) AS first_name,
    CAST(last_name AS VARCHAR) AS last_name,
    CAST(company AS VARCHAR) AS company,
    CAST(address AS VARCHAR) AS address,
    CAST(city AS VARCHAR) AS city,
    CAST(state AS VARCHAR) AS state,
    CAST(country AS VARCHAR) AS country,
    CAST(postal_code AS VARCHAR) AS postal_code,
    CAST(phone AS VARCHAR) AS phone,
    CAST(fax AS VARCHAR) AS fax,
    CAST(email AS VARCHAR) AS email,
    CAST(support_rep_id AS INTEGER) AS support_rep_id
FROM raw.chinook.customer
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _batch_id DESC) = 1
