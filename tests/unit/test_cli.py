from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from batchlake.cli import app

runner = CliRunner()


def test_help_of_every_command() -> None:
    for command in ("init", "demo", "run", "ingest", "query", "catalog", "runs", "check", "test"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_help_keeps_every_bracketed_name() -> None:
    """`[pipelines.*]`, `[serve] host`... survive rich markup in every help screen."""
    import re

    import typer.main

    group = typer.main.get_command(app)
    wanted = re.compile(r"\\?\[([a-z_.*]+)\]")
    screens = {"": runner.invoke(app, ["--help"], env={"COLUMNS": "300"}).output}
    texts = {"": [c.help or "" for c in group.commands.values()]}
    for name, command in group.commands.items():
        screens[name] = runner.invoke(app, [name, "--help"], env={"COLUMNS": "300"}).output
        texts[name] = [command.help or ""] + [getattr(p, "help", "") or "" for p in command.params]
    checked = 0
    for name, sources in texts.items():
        for text in sources:
            for found in wanted.findall(text):
                checked += 1
                assert f"[{found}]" in screens[name], (name, found, screens[name])
    assert checked >= 3
    assert "Start pipelines ([pipelines.*] in batchlake.toml)" in screens[""]


def test_init_empty_project_then_refuse_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "my-lake"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    text = (target / "batchlake.toml").read_text()
    assert 'name = "my_lake"' in text
    assert (target / "models" / "trusted").is_dir() and (target / "models" / "refined").is_dir()
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code != 0


def test_init_example_copies_models(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "--example", "chinook", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    refined = {p.stem for p in (tmp_path / "c" / "models" / "refined").glob("*.sql")}
    assert {"sales_by_day", "customer_features", "best_month_per_year"} <= refined
    bad = runner.invoke(app, ["init", "--example", "nope", str(tmp_path / "d")])
    assert bad.exit_code != 0


def test_query_json_prints_non_finite_floats_as_null(tmp_path: Path) -> None:
    project = tmp_path / "lake"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    sql = "SELECT 'nan'::DOUBLE AS x, 'inf'::DOUBLE AS y, '-inf'::DOUBLE AS z"
    result = runner.invoke(app, ["query", "-p", str(project), "--format", "json", sql])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout, parse_constant=_refuse) == [{"x": None, "y": None, "z": None}]


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_new_keys_are_announced_in_english(tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", str(tmp_path / "p")]).exit_code == 0
    for role, article in (("operator", "an"), ("reader", "a")):
        made = runner.invoke(app, ["serve", "-p", str(tmp_path / "p"), "--new-key", role])
        assert made.exit_code == 0, made.output
        assert f"created {article} {role} key;" in made.stderr
