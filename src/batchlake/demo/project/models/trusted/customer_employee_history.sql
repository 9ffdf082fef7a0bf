-- Each customer with its support representative and that employee's chain of managers
-- through reports_to: one row per level (1 = the rep's direct manager). A customer whose
-- rep has no manager (or who has no rep) gets one row with a NULL level.
WITH RECURSIVE chain AS (
    SELECT
        e.employee_id AS rep_id,
        1 AS level,
        m.employee_id AS manager_id,
        m.first_name || ' ' || m.last_name AS manager_name,
        m.reports_to AS next_id
    FROM trusted.employees AS e
    JOIN trusted.employees AS m ON m.employee_id = e.reports_to
    UNION ALL
    SELECT
        c.rep_id,
        c.level + 1,
        m.employee_id,
        m.first_name || ' ' || m.last_name,
        m.reports_to
    FROM chain AS c
    JOIN trusted.employees AS m ON m.employee_id = c.next_id
    WHERE c.level < 100
)
SELECT
    cu.customer_id,
    cu.first_name || ' ' || cu.last_name AS customer_name,
    rep.employee_id AS support_rep_id,
    rep.first_name || ' ' || rep.last_name AS support_rep_name,
    ch.level,
    ch.manager_id,
    ch.manager_name
FROM trusted.customers AS cu
LEFT JOIN trusted.employees AS rep ON rep.employee_id = cu.support_rep_id
LEFT JOIN chain AS ch ON ch.rep_id = rep.employee_id
