-- Cumulative COVID-19 counts per country and day, from the latest download of the file
-- (each download is a full snapshot); one row per (country, day), a repeated row keeping
-- its highest count.
SELECT
    CAST("Date" AS DATE) AS day,
    trim("Country") AS country,
    CAST("Confirmed" AS BIGINT) AS confirmed,
    CAST("Deaths" AS BIGINT) AS deaths,
    CAST("Recovered" AS BIGINT) AS recovered
FROM raw.covid.countries_aggregated
WHERE _batch_id = (SELECT max(_batch_id) FROM raw.covid.countries_aggregated)
QUALIFY row_number() OVER (PARTITION BY trim("Country"), "Date" ORDER BY "Confirmed" DESC) = 1
