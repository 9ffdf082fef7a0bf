"""The lake tables a SQL statement reads, parsed with sqlglot (DuckDB dialect)."""

from __future__ import annotations

from batchlake.errors import ModelError


def table_references(sql: str, *, where: str = "query") -> set[str]:
    """Names of the lake tables a SELECT reads (CTE names and table functions excluded)."""
    import sqlglot  # imported here: commands that only capture never parse SQL
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ModelError(f"{where}: SQL does not parse: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ModelError(f"{where}: must hold exactly one SELECT statement")
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    found = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function such as read_parquet(...)
        parts = [p for p in (table.catalog, table.db, table.name) if p]
        if len(parts) == 1 and parts[0] in ctes:
            continue
        found.add(".".join(parts))
    return found


def zone_hint(sql_error: str, referenced: set[str], known: set[str]) -> str | None:
    """For a query naming lake tables without their zone (`FROM sales_by_day`): a message
    naming the zone-qualified tables meant; None when the error is about something else."""
    if "does not exist" not in sql_error:
        return None
    bare = sorted(name for name in referenced if "." not in name)
    meant = {
        name: sorted(full for full in known if full.rsplit(".", 1)[-1] == name) for name in bare
    }
    meant = {name: fulls for name, fulls in meant.items() if fulls}
    if not meant:
        return None
    if len(meant) == 1:
        (fulls,) = meant.values()
        write = " or ".join(fulls)
    else:
        write = ", ".join(f"{' or '.join(fulls)} for {name}" for name, fulls in meant.items())
    return (
        f"no table {', '.join(meant)}: lake tables are named with their zone; write {write} "
        "(run 'batchlake catalog' to list them)"
    )
