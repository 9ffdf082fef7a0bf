-- Users of the store API as of the latest capture, flattened; the password the API
-- exposes is left out on purpose.
SELECT
    CAST(id AS INTEGER) AS user_id,
    username,
    lower(trim(email)) AS email,
    concat_ws(' ', name.firstname, name.lastname) AS full_name,
    address.city AS city,
    address.zipcode AS zipcode
FROM raw.store.users
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.store.users)
QUALIFY row_number() OVER (PARTITION BY id) = 1
