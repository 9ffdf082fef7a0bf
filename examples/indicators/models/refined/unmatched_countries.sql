-- COVID-19 "countries" that refined.cases_per_million leaves out because no World Bank
-- population matches them, with the reason (the note in data/country_aliases.csv, or a
-- hint to add the name there) and the cases that leaves out.
SELECT
    c.country,
    coalesce(
        c.note, 'no World Bank economy of that name: map it in data/country_aliases.csv'
    ) AS reason,
    CAST(max(d.day) AS DATE) AS last_day,
    CAST(arg_max(d.confirmed, d.day) AS BIGINT) AS confirmed,
    CAST(arg_max(d.deaths, d.day) AS BIGINT) AS deaths
FROM trusted.countries AS c
JOIN trusted.covid_daily AS d ON d.country = c.country
WHERE c.iso3 IS NULL
GROUP BY c.country, c.note
