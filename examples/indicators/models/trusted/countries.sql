-- Every country name of the COVID data with the World Bank economy it is, if any.
-- The sources name countries differently ("US" / "United States", "Korea, South" /
-- "Korea, Rep.", "Turkey" / "Turkiye"): data/country_aliases.csv maps those names to
-- ISO3 codes (captured as raw.reference.country_aliases); any other name must equal the
-- World Bank's. matched_by: 'alias', 'name', or 'none' (ships, the Olympics, places the
-- World Bank does not list: see refined.unmatched_countries).
WITH covid AS (
    SELECT DISTINCT country FROM trusted.covid_daily
),
aliases AS (
    SELECT trim(country) AS country, nullif(trim(iso3), '') AS iso3, note
    FROM raw.reference.country_aliases
    WHERE _batch_id = (SELECT max(_batch_id) FROM raw.reference.country_aliases)
),
economies AS (
    SELECT iso3, arg_max(name, year) AS name
    FROM trusted.population
    GROUP BY iso3
)
SELECT
    c.country,
    coalesce(by_alias.iso3, by_name.iso3) AS iso3,
    coalesce(by_alias.name, by_name.name) AS wb_name,
    CASE
        WHEN by_alias.iso3 IS NOT NULL THEN 'alias'
        WHEN by_name.iso3 IS NOT NULL THEN 'name'
        ELSE 'none'
    END AS matched_by,
    a.note
FROM covid AS c
LEFT JOIN aliases AS a ON a.country = c.country
LEFT JOIN economies AS by_alias ON by_alias.iso3 = a.iso3
LEFT JOIN economies AS by_name ON lower(by_name.name) = lower(c.country) AND a.country IS NULL
