-- Playlists, one row per playlist_id (the latest captured batch wins).
SELECT
    CAST(playlist_id AS INTEGER) AS playlist_id,
    CAST(name AS VARCHAR) AS name
FROM raw.chinook.playlist
QUALIFY row_number() OVER (PARTITION BY playlist_id ORDER BY _batch_id DESC) = 1
