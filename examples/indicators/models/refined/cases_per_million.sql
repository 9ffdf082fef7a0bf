-- COVID-19 cases and deaths per million people, by country and month.
-- new_cases: the month's last cumulative count minus the previous month's (from zero in a
-- country's first month); data corrections can make it negative. The population is the
-- World Bank's for the month's year, else for the nearest year it has (the earlier on a
-- tie; the latest published year for months after it), shown as population_year.
-- Per-million figures are rounded half up to 2 decimals from exact integers. Countries
-- with no population are left out: refined.unmatched_countries lists them.
WITH month_end AS (
    SELECT
        country,
        CAST(date_trunc('month', day) AS DATE) AS month,
        count(*) AS days,
        arg_max(confirmed, day) AS confirmed,
        arg_max(deaths, day) AS deaths
    FROM trusted.covid_daily
    GROUP BY ALL
),
monthly AS (
    SELECT
        *,
        confirmed - coalesce(lag(confirmed) OVER w, 0) AS new_cases,
        deaths - coalesce(lag(deaths) OVER w, 0) AS new_deaths
    FROM month_end
    WINDOW w AS (PARTITION BY country ORDER BY month)
),
with_population AS (
    SELECT m.*, c.iso3, c.wb_name, p.year AS population_year, p.population
    FROM monthly AS m
    JOIN trusted.countries AS c ON c.country = m.country
    JOIN trusted.population AS p ON p.iso3 = c.iso3
    QUALIFY row_number() OVER (
        PARTITION BY m.country, m.month ORDER BY abs(p.year - year(m.month)), p.year
    ) = 1
)
SELECT
    country,
    iso3,
    wb_name,
    month,
    CAST(days AS INTEGER) AS days,
    confirmed,
    new_cases,
    deaths,
    new_deaths,
    population,
    CAST(population_year AS INTEGER) AS population_year,
    CAST(
        CAST(sign(new_cases) * ((200000000 * abs(new_cases) // population + 1) // 2)
            AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 2)
    ) AS cases_per_million,
    CAST(
        CAST(sign(new_deaths) * ((200000000 * abs(new_deaths) // population + 1) // 2)
            AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 2)
    ) AS deaths_per_million,
    CAST(
        CAST(sign(confirmed) * ((200000000 * abs(confirmed) // population + 1) // 2)
            AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 2)
    ) AS confirmed_per_million
FROM with_population
