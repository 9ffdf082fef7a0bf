-- Tracks in playlists, one row per (playlist_id, track_id) (the latest captured batch wins).
SELECT
    CAST(playlist_id AS INTEGER) AS playlist_id,
    CAST(track_id AS INTEGER) AS track_id
FROM raw.chinook.playlist_track
QUALIFY row_number() OVER (PARTITION BY playlist_id, track_id ORDER BY _batch_id DESC) = 1
