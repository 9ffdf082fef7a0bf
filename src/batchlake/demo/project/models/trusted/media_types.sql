-- Media types, one row per media_type_id (the latest captured batch wins).
SELECT
    CAST(media_type_id AS INTEGER) AS media_type_id,
    CAST(name AS VARCHAR) AS name
FROM raw.chinook.media_type
QUALIFY row_number() OVER (PARTITION BY media_type_id ORDER BY _batch_id DESC) = 1
