-- One row per invoice line with its date, customer, track, genre and artist: the fact
-- table the refined sales analytics read. amount = unit_price * quantity, exact.
-- An invoice without lines still counts as an invoice: it appears once, with NULL line
-- columns (so sums of quantity and amount skip it, counts of invoices include it).
SELECT
    l.invoice_line_id,
    i.invoice_id,
    i.customer_id,
    i.invoice_date,
    CAST(i.invoice_date AS DATE) AS sale_date,
    l.track_id,
    t.album_id,
    a.artist_id,
    ar.name AS artist_name,
    t.genre_id,
    t.genre_name,
    t.milliseconds,
    l.unit_price,
    l.quantity,
    CAST(l.unit_price * l.quantity AS DECIMAL(12, 2)) AS amount
FROM trusted.invoices AS i
LEFT JOIN trusted.invoice_lines AS l ON l.invoice_id = i.invoice_id
LEFT JOIN trusted.tracks AS t ON t.track_id = l.track_id
LEFT JOIN trusted.albums AS a ON a.album_id = t.album_id
LEFT JOIN trusted.artists AS ar ON ar.artist_id = a.artist_id
