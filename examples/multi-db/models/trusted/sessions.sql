-- App sessions (MongoDB) as of the latest capture, typed from the raw canonical Extended
-- JSON: ObjectIds as hex text, dates as UTC timestamps. user_id is NULL for anonymous
-- sessions; ended_at is NULL while a session is open.
SELECT
    _id."$oid" AS session_id,
    CAST(user_id."$numberInt" AS INTEGER) AS user_id,
    epoch_ms(CAST(started_at."$date"."$numberLong" AS BIGINT)) AS started_at,
    epoch_ms(CAST(ended_at."$date"."$numberLong" AS BIGINT)) AS ended_at,
    CAST(pages."$numberInt" AS INTEGER) AS pages,
    device.os AS device_os
FROM raw.app.sessions
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.app.sessions)
