-- Genres, one row per genre_id (the latest captured batch wins).
SELECT
    CAST(genre_id AS INTEGER) AS genre_id,
    CAST(name AS VARCHAR) AS name
FROM raw.chinook.genre
QUALIFY row_number() OVER (PARTITION BY genre_id ORDER BY _batch_id DESC) = 1
