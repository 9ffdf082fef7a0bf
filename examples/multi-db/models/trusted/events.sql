-- App events (MongoDB) as of the latest capture. Only purchases carry an amount, stored
-- as Decimal128 ({"$numberDecimal": "12.30"}) and read back exactly.
SELECT
    _id."$oid" AS event_id,
    "session"."$oid" AS session_id,
    CAST(user_id."$numberInt" AS INTEGER) AS user_id,
    kind,
    epoch_ms(CAST("at"."$date"."$numberLong" AS BIGINT)) AS occurred_at,
    CAST(amount."$numberDecimal" AS DECIMAL(12, 2)) AS amount
FROM raw.app.events
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.app.events)
