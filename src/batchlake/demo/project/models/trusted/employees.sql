-- Employees, one row per employee_id (the latest captured batch wins).
-- Text is trimmed of surrounding whitespace (some copies of the store have "Edinburgh ").
SELECT
    CAST(employee_id AS INTEGER) AS employee_id,
    trim(CAST(last_name AS VARCHAR)) AS last_name,
    trim(CAST(first_name AS VARCHAR)) AS first_name,
    trim(CAST(title AS VARCHAR)) AS title,
    CAST(reports_to AS INTEGER) AS reports_to,
    CAST(birth_date AS TIMESTAMP) AS birth_date,
    CAST(hire_date AS TIMESTAMP) AS hire_date,
    trim(CAST(address AS VARCHAR)) AS address,
    trim(CAST(city AS VARCHAR)) AS city,
    trim(CAST(state AS VARCHAR)) AS state,
    trim(CAST(country AS VARCHAR)) AS country,
    trim(CAST(postal_code AS VARCHAR)) AS postal_code,
    trim(CAST(phone AS VARCHAR)) AS phone,
    trim(CAST(fax AS VARCHAR)) AS fax,
    trim(CAST(email AS VARCHAR)) AS email
FROM raw.chinook.employee
QUALIFY row_number() OVER (PARTITION BY employee_id ORDER BY _batch_id DESC) = 1
