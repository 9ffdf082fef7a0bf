-- Tracks with their genre and media type names, one row per track_id (latest batch wins).
WITH track AS (
    SELECT *
    FROM raw.chinook.track
    QUALIFY row_number() OVER (PARTITION BY track_id ORDER BY _batch_id DESC) = 1
)
SELECT
    CAST(t.track_id AS INTEGER) AS track_id,
    CAST(t.name AS VARCHAR) AS name,
    CAST(t.album_id AS INTEGER) AS album_id,
    CAST(t.media_type_id AS INTEGER) AS media_type_id,
    m.name AS media_type_name,
    CAST(t.genre_id AS INTEGER) AS genre_id,
    g.name AS genre_name,
    CAST(t.composer AS VARCHAR) AS composer,
    CAST(t.milliseconds AS INTEGER) AS milliseconds,
    CAST(t.bytes AS BIGINT) AS bytes,
    CAST(t.unit_price AS DECIMAL(10, 2)) AS unit_price
FROM track AS t
LEFT JOIN trusted.genres AS g ON g.genre_id = t.genre_id
LEFT JOIN trusted.media_types AS m ON m.media_type_id = t.media_type_id
