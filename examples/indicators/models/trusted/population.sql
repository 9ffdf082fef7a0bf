-- Total population per economy and year (World Bank indicator SP.POP.TOTL), from the
-- latest capture. Years without a figure (the API answers "value": null) are left out.
-- Aggregates (World, regions, income groups) are kept; they match no COVID country.
SELECT
    countryiso3code AS iso3,
    country.value AS name,
    CAST("date" AS INTEGER) AS year,
    CAST("value" AS BIGINT) AS population
FROM raw.worldbank.population
WHERE
    _batch_id = (SELECT max(_batch_id) FROM raw.worldbank.population)
    AND "value" IS NOT NULL
    AND coalesce(countryiso3code, '') <> ''
QUALIFY row_number() OVER (PARTITION BY countryiso3code, "date") = 1
