"""Models: one `SELECT` per file in `models/<zone>/<name>.sql`, Python steps in
`python/*.py`, and the DAG they form.

A model's dependencies are the tables its SQL reads, found by parsing it with sqlglot
(DuckDB dialect): `trusted.x` / `refined.x` (other models) and `raw.<source>.<entity>`
(captured entities). Capture steps are nodes of the same DAG, so `--select` works across
both: `refined.sales_by_day` (one node), `+refined.sales_by_day` (it and everything it
needs), `trusted.invoices+` (it and everything downstream), `refined.*` (a glob).

A Python step (`@step(inputs=[...], outputs=[...])`, see `transform.python_steps`) is one
node named `python.<step>`; each of its output tables is an alias of that node, so selecting an
output selects the step and models reading an output depend on it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from batchlake.catalog import ZONES
from batchlake.catalog.references import table_references
from batchlake.errors import ConfigError, ModelError
from batchlake.transform.kinds import FULL, ModelSettings, load_model_settings

if TYPE_CHECKING:
    from batchlake.config import Project

__all__ = ["Dag", "Model", "Node", "PythonModel", "project_models", "step", "table_references"]

CHECKS_SUFFIX = ".checks.toml"  # a model's quality checks, beside its SQL
NodeKind = Literal["ingest", "model"]  # a capture, or a model (SQL or Python)


@dataclass(frozen=True)
class Model:
    """A SQL model: the table `zone.name`, built by `sql`."""

    zone: str
    name: str
    sql: str
    path: Path
    depends_on: frozenset[str]
    description: str = ""
    settings: ModelSettings = FULL  # kind and partitioning (`<name>.toml` beside the SQL)
    checks: str = ""  # its quality checks (`<name>.checks.toml`), as written

    @property
    def full_name(self) -> str:
        return f"{self.zone}.{self.name}"

    @property
    def sql_hash(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def definition_hash(self) -> str:
        """The SQL with its kind, keys and quality checks: a change rebuilds the table in
        full (so a new or changed check runs on the whole result before it is committed)."""
        text = f"{self.sql}\n{self.settings.fingerprint}\n{self.settings.partition_by}"
        if self.checks:  # no checks: the hash tables built before checks counted keep
            text += f"\n{self.checks}"
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PythonModel:
    """A Python step: `function(ctx)` reads `inputs` and returns the `outputs` tables."""

    name: str
    path: Path
    function: Callable[..., Any] = field(compare=False)
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"python.{self.name}"

    @property
    def depends_on(self) -> frozenset[str]:
        return frozenset(self.inputs)

    @property
    def where(self) -> str:
        """`python/file.py:function`, as error messages name the step."""
        return f"{self.path.parent.name}/{self.path.name}:{self.function.__name__}"

    @property
    def source_hash(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


_STEP_ATTRIBUTE = "__batchlake_step__"


def step(
    *, inputs: list[str], outputs: list[str], name: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a Python step in a project's `python/*.py` file.

    The function receives a `batchlake.transform.python_steps.StepContext`
    (`ctx.table(name)` gives an input as a `pyarrow.Table`, `ctx.params` the step's
    `[python.<name>]` settings) and
    returns a dict mapping every output table name to a `pyarrow.Table`::

        @step(inputs=["refined.sales_by_month"], outputs=["refined.sales_forecast"])
        def sales_forecast(ctx):
            months = ctx.table("refined.sales_by_month")
            return {"refined.sales_forecast": forecast(months)}
    """

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        setattr(function, _STEP_ATTRIBUTE, (name or function.__name__, inputs, outputs))
        return function

    return mark


def load_python_models(python_dir: Path) -> dict[str, PythonModel]:
    """Every `@step` function of `python/*.py`, checked (names, inputs, outputs)."""
    found: dict[str, PythonModel] = {}
    for path in sorted(python_dir.glob("*.py")) if python_dir.is_dir() else []:
        where = f"{python_dir.name}/{path.name}"
        module_name = f"batchlake_project_python.{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look the module up
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ModelError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from exc
        for function in vars(module).values():
            declared = getattr(function, _STEP_ATTRIBUTE, None)
            if declared is None or getattr(function, "__module__", None) != module_name:
                continue
            step_name, inputs, outputs = declared
            model = PythonModel(
                step_name,
                path,
                function,
                tuple(inputs),
                tuple(outputs),
                (inspect.getdoc(function) or "")[:500],
            )
            _check_step(model, found)
            found[model.full_name] = model
    return found


def _check_step(model: PythonModel, found: dict[str, PythonModel]) -> None:
    where = model.where
    if model.full_name in found:
        raise ModelError(
            f"{where}: a step named '{model.name}' is already declared in "
            f"{found[model.full_name].where}; pass name='...' to @step"
        )
    if not model.outputs:
        raise ModelError(f"{where}: declare at least one output table, e.g. outputs=['refined.x']")
    for table in model.outputs:
        zone, _, rest = table.partition(".")
        if zone not in ZONES or not rest or "." in rest:
            raise ModelError(
                f"{where}: output '{table}' must be named <zone>.<table> with zone one of "
                f"{', '.join(ZONES)}"
            )
    if set(model.inputs) & set(model.outputs):
        raise ModelError(f"{where}: a table cannot be both an input and an output")
    for other in found.values():
        shared = set(other.outputs) & set(model.outputs)
        if shared:
            raise ModelError(f"{where} and {other.where} both write {', '.join(sorted(shared))}")


@dataclass(frozen=True)
class Node:
    """A step of a run: a capture (`raw.source.entity`), a SQL model or a Python step."""

    name: str
    kind: NodeKind
    depends_on: frozenset[str] = field(default_factory=frozenset)
    model: Model | PythonModel | None = None

    @property
    def source(self) -> str:
        return self.name.split(".")[1]

    @property
    def entity(self) -> str:
        return self.name.split(".")[2]


def load_models(models_dir: Path) -> dict[str, Model]:
    """Every `models/<zone>/*.sql` file, parsed."""
    models: dict[str, Model] = {}
    for zone in ZONES:
        for path in sorted((models_dir / zone).glob("*.sql")):
            model = load_model(path, zone, models_dir)
            models[model.full_name] = model
    return models


def load_model(path: Path, zone: str, models_dir: Path) -> Model:
    """One `models/<zone>/<name>.sql` file with its kind and checks; ModelError naming the
    file when its SQL does not parse or its `<name>.toml` is wrong."""
    sql = path.read_text(encoding="utf-8")
    where = str(path.relative_to(models_dir.parent))
    body = sql.strip().rstrip(";").strip()
    deps = table_references(body, where=where)
    description = " ".join(
        line.strip()[2:].strip() for line in body.splitlines() if line.strip().startswith("--")
    )[:500]
    settings = load_model_settings(path, models_dir.parent)
    checks = path.with_name(f"{path.stem}{CHECKS_SUFFIX}")
    return Model(
        zone,
        path.stem,
        body,
        path,
        frozenset(deps),
        description,
        settings,
        checks.read_text(encoding="utf-8") if checks.is_file() else "",
    )


def project_models(project: Project) -> dict[str, Model | PythonModel]:
    """SQL models by table name and Python steps (`python.<step>`) of a project."""
    python = load_python_models(project.root / "python")
    steps = sorted(m.name for m in python.values())
    for name in project.settings.python:
        if name not in steps:
            raise ConfigError(
                f"[python.{name}] in batchlake.toml names no Python step; "
                f"steps in python/*.py: {', '.join(steps) or 'none'}"
            )
    return {**load_models(project.models_dir), **python}


class Dag:
    """Capture steps and models, with their dependencies."""

    def __init__(self, nodes: dict[str, Node], aliases: dict[str, str] | None = None) -> None:
        self.nodes = nodes
        self.aliases = aliases or {}  # a Python step's output table -> the step's node
        self._check()

    @classmethod
    def build(cls, models: dict[str, Model | PythonModel], raw_entities: list[str]) -> Dag:
        nodes = {name: Node(name, "ingest") for name in raw_entities}
        aliases: dict[str, str] = {}
        for name, model in models.items():
            if isinstance(model, PythonModel):
                for output in model.outputs:
                    if output in models:
                        raise ModelError(
                            f"{model.where} writes {output}, which a SQL model also builds"
                        )
                    aliases[output] = name
        for name, model in models.items():
            deps = frozenset(aliases.get(dep, dep) for dep in model.depends_on)
            nodes[name] = Node(name, "model", deps, model)
        return cls(nodes, aliases)

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
                        f"{_where(node)} reads '{dep}', which is not in the project; {hint}"
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
            matched += [
                node for alias, node in self.aliases.items() if fnmatch.fnmatchcase(alias, pattern)
            ]
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


def _where(node: Node) -> str:
    if isinstance(node.model, PythonModel):
        return node.model.where
    return node.model.path.name if node.model else node.name


def _closure(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
