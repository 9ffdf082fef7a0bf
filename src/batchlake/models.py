"""SQL models: one `SELECT` per file in `models/<zone>/<name>.sql`, and the DAG they form.

A model's dependencies are the tables its SQL reads, found by parsing it with sqlglot
(DuckDB dialect): `trusted.x` / `refined.x` (other models) and `raw.<source>.<entity>`
(captured entities). Capture steps are nodes of the same DAG, so `--select` works across
both: `refined.sales_by_day` (one node), `+refined.sales_by_day` (it and everything it
needs), `trusted.invoices+` (it and everything downstream), `refined.*` (a glob).
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from batchlake.catalog import ZONES
from batchlake.errors import ModelError


@dataclass(frozen=True)
class Model:
    """A SQL model: the table `zone.name`, built by `sql`."""

    zone: str
    name: str
    sql: str
    path: Path
    depends_on: frozenset[str]
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.zone}.{self.name}"

    @property
    def sql_hash(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class Node:
    """A step of a run: a capture (`raw.source.entity`) or a model."""

    name: str
    kind: str  # "ingest" or "model"
    depends_on: frozenset[str] = field(default_factory=frozenset)
    model: Model | None = None

    @property
    def source(self) -> str:
        return self.name.split(".")[1]

    @property
    def entity(self) -> str:
        return self.name.split(".")[2]


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


def load_models(models_dir: Path) -> dict[str, Model]:
    """Every `models/<zone>/*.sql` file, parsed."""
    models: dict[str, Model] = {}
    for zone in ZONES:
        for path in sorted((models_dir / zone).glob("*.sql")):
            sql = path.read_text(encoding="utf-8")
            where = str(path.relative_to(models_dir.parent))
            body = sql.strip().rstrip(";").strip()
            deps = table_references(body, where=where)
            description = " ".join(
                line.strip()[2:].strip()
                for line in body.splitlines()
                if line.strip().startswith("--")
            )[:500]
            model = Model(zone, path.stem, body, path, frozenset(deps), description)
            models[model.full_name] = model
    return models


class Dag:
    """Capture steps and models, with their dependencies."""

    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes
        self._check()

    @classmethod
    def build(cls, models: dict[str, Model], raw_entities: list[str]) -> Dag:
        nodes = {name: Node(name, "ingest") for name in raw_entities}
        for name, model in models.items():
            nodes[name] = Node(name, "model", model.depends_on, model)
        return cls(nodes)

    def _check(self) -> None:
        for node in self.nodes.values():
            for dep in sorted(node.depends_on):
                if dep not in self.nodes:
                    hint = (
                        "capture it by adding the table to its source in batchlake.toml"
                        if dep.startswith("raw.")
                        else f"add models/{dep.replace('.', '/')}.sql or fix the name"
                        if dep.split(".")[0] in ZONES
                        else "qualify it as trusted.<name>, refined.<name> or raw.<source>.<entity>"
                    )
                    raise ModelError(
                        f"{node.model.path.name if node.model else node.name} reads '{dep}', "
                        f"which is not in the project; {hint}"
                    )
        try:
            self.order()
        except CycleError as exc:
            raise ModelError(f"models form a cycle: {' -> '.join(exc.args[1])}") from exc

    def order(self, names: set[str] | None = None) -> list[str]:
        """Names in dependency order (restricted to `names` when given)."""
        graph = {n: set(node.depends_on) for n, node in self.nodes.items()}
        ordered = list(TopologicalSorter(graph).static_order())
        return [n for n in ordered if names is None or n in names]

    def downstream(self, name: str) -> set[str]:
        children: dict[str, set[str]] = {n: set() for n in self.nodes}
        for node in self.nodes.values():
            for dep in node.depends_on:
                children[dep].add(node.name)
        return _closure(name, children)

    def upstream(self, name: str) -> set[str]:
        return _closure(name, {n: set(node.depends_on) for n, node in self.nodes.items()})

    def select(self, selectors: list[str] | None) -> list[str]:
        """Node names chosen by selectors, in dependency order; all when none given."""
        if not selectors:
            return self.order()
        chosen: set[str] = set()
        for selector in (s for text in selectors for s in text.replace(",", " ").split()):
            up, down = selector.startswith("+"), selector.endswith("+")
            pattern = selector.strip("+")
            matched = [n for n in self.nodes if fnmatch.fnmatchcase(n, pattern)]
            if not matched:
                raise ModelError(
                    f"--select '{selector}' matches nothing; "
                    "run 'batchlake catalog' to see the names of tables and models"
                )
            for name in matched:
                chosen.add(name)
                if up:
                    chosen |= self.upstream(name)
                if down:
                    chosen |= self.downstream(name)
        return self.order(chosen)


def _closure(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
