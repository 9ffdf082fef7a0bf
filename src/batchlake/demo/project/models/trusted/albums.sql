-- Albums, one row per album_id (the latest captured batch wins).
SELECT
    CAST(album_id AS INTEGER) AS album_id,
    CAST(title AS VARCHAR) AS title,
    CAST(artist_id AS INTEGER) AS artist_id
FROM raw.chinook.album
QUALIFY row_number() OVER (PARTITION BY album_id ORDER BY _batch_id DESC) = 1
