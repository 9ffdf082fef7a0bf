-- Employees, one row per employee_id (the latest captured batch wins).
SELECT
    CAST(employee_id AS INTEGER) AS employee_id,
    CAST(last_name AS VARCHAR) AS last_name,
    CAST(first_name AS VARCHAR) AS first_name,
    CAST(title AS VARCHAR) AS title,
    CAST(reports_to AS INTEGER) AS reports_to,
    CAST(birth_date AS TIMESTAMP) AS birth_date,
    CAST(hire_date AS TIMESTAMP) AS hire_date,
    CAST(address AS VARCHAR) AS address,
    CAST(city AS VARCHAR) AS city,
    CAST(state AS VARCHAR) AS state,
    CAST(country AS VARCHAR) AS country,
    CAST(postal_code AS VARCHAR) AS postal_code,
    CAST(phone AS VARCHAR) AS phone,
    CAST(fax AS VARCHAR) AS fax,
    CAST(email AS VARCHAR) AS email
FROM raw.chinook.employee
QUALIFY row_number() OVER (PARTITION BY employee_id ORDER BY _batch_id DESC) = 1
