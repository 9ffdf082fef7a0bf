-- App logs (MongoDB) as of the latest capture; latency is a BSON double.
SELECT
    _id."$oid" AS log_id,
    epoch_ms(CAST("at"."$date"."$numberLong" AS BIGINT)) AS logged_at,
    level,
    message,
    CAST(latency_ms."$numberDouble" AS DOUBLE) AS latency_ms,
    CAST(user_id."$numberInt" AS INTEGER) AS user_id
FROM raw.app.logs
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.app.logs)
