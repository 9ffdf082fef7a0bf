-- Artists, one row per artist_id (the latest captured batch wins).
SELECT
    CAST(artist_id AS INTEGER) AS artist_id,
    CAST(name AS VARCHAR) AS name
FROM raw.chinook.artist
QUALIFY row_number() OVER (PARTITION BY artist_id ORDER BY _batch_id DESC) = 1
