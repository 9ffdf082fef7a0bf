"""The CI files `batchlake init` writes: valid against GitHub's and GitLab's schemas, and
the commands of their check job pass on the Chinook example (and fail on a broken one).

actionlint cannot be installed here (its package downloads a binary at build time), so
the files are validated with check-jsonschema's vendored SchemaStore schemas.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import batchlake

SHIPPED = Path(__file__).parents[2] / "src/batchlake/demo/project"


def _yaml(path: Path) -> Any:
    from ruamel.yaml import YAML  # YAML 1.2, as GitHub reads it (`on` stays a string)

    return YAML(typ="safe").load(path.read_text())


def _validate(path: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cli(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    """A workflow's `run:` line, run in the project folder by this checkout's batchlake."""
    words = shlex.split(command)
    assert words[0] == "batchlake", command
    import batchlake as package

    environ = {k: v for k, v in os.environ.items() if k != "CHINOOK_URL"}
    # this checkout's batchlake, from the project folder (a relative PYTHONPATH would not do)
    paths = [Path(package.__file__).resolve().parents[1], *map(Path, sys.path[1:])]
    environ["PYTHONPATH"] = os.pathsep.join(str(p.resolve()) for p in paths if p.is_dir())
    return subprocess.run(
        [sys.executable, "-m", "batchlake", *words[1:]],
        cwd=project,
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ci") / "chinook"
    batchlake("init", "--example", "chinook", str(root))
    return root


def test_the_workflow_files_are_valid(project: Path, tmp_path: Path) -> None:
    github = project / ".github/workflows/batchlake.yml"
    gitlab = project / ".gitlab-ci.yml"
    for path, schema in ((github, "vendor.github-workflows"), (gitlab, "vendor.gitlab-ci")):
        result = _validate(path, schema)
        assert result.returncode == 0, result.stdout + result.stderr
    # the validation is real: a job without runs-on, an unknown `when`, are refused
    broken = tmp_path / "broken.yml"
    broken.write_text(github.read_text().replace("    runs-on: ubuntu-latest\n", "", 1))
    assert _validate(broken, "vendor.github-workflows").returncode == 1
    broken.write_text(
        gitlab.read_text().replace("  stage: check\n", "  stage: check\n  when: sometimes\n")
    )
    assert _validate(broken, "vendor.gitlab-ci").returncode == 1


def test_pull_requests_check_and_test_main_deploys_with_the_secrets(project: Path) -> None:
    workflow = _yaml(project / ".github/workflows/batchlake.yml")
    assert "pull_request" in workflow["on"] and workflow["on"]["push"]["branches"] == ["main"]
    check, deploy = workflow["jobs"]["check"], workflow["jobs"]["deploy"]
    runs = [s["run"] for s in check["steps"] if "run" in s]
    assert runs == ['pip install "$BATCHLAKE_PACKAGE"', "batchlake check", "batchlake test"]
    assert deploy["needs"] == "check"
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    # every ${VAR} of batchlake.toml reaches the deploy job from the secret store
    assert deploy["env"] == {"CHINOOK_URL": "${{ secrets.CHINOOK_URL }}"}
    assert [s["run"] for s in deploy["steps"] if "run" in s][-1].startswith("batchlake run")
    gitlab = _yaml(project / ".gitlab-ci.yml")
    assert gitlab["check"]["script"] == ["batchlake check", "batchlake test"]
    assert gitlab["deploy"]["script"][0].startswith("batchlake run")
    assert "CHINOOK_URL" in (project / ".gitlab-ci.yml").read_text()


def test_the_check_job_passes_on_the_chinook_example(project: Path) -> None:
    workflow = _yaml(project / ".github/workflows/batchlake.yml")
    commands = [s["run"] for s in workflow["jobs"]["check"]["steps"] if "run" in s][1:]
    assert commands == _yaml(project / ".gitlab-ci.yml")["check"]["script"]
    for command in commands:
        started = time.perf_counter()
        result = _cli(project, command)
        seconds = time.perf_counter() - started
        assert result.returncode == 0, f"{command}:\n{result.stderr}"
        assert seconds < 60, (command, seconds)
        print(f"{command}: {seconds:.1f}s")  # shown with -s
    assert not (project / "lake").exists() and not (project / ".batchlake").exists()


def test_a_broken_project_fails_the_check_job_with_what_to_fix(
    project: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(project, broken)
    invoices = broken / "models/trusted/invoices.sql"
    invoices.write_text(invoices.read_text().replace("CAST(total AS", "CAST(totl AS"))
    tests = broken / "models/refined/sales_by_day.tests.toml"
    tests.write_text(tests.read_text().replace('avg_ticket = "1.98"', 'avg_ticket = "1.99"'))
    checked = _cli(broken, "batchlake check")
    assert checked.returncode == 1
    first = checked.stderr.splitlines()[0]
    assert first.startswith("problem models/trusted/invoices.sql: does not compile: Binder")
    assert 'Referenced column "totl" not found' in first
    shutil.copy(project / "models/trusted/invoices.sql", invoices)  # only the test is wrong now
    tested = _cli(broken, "batchlake test --select refined.sales_by_day")
    assert tested.returncode == 1
    lines = tested.stderr.splitlines()
    assert any(line.startswith("FAIL refined.sales_by_day: lines are summed") for line in lines)
    minus = [line for line in lines if line.startswith("  - ")]
    plus = [line for line in lines if line.startswith("  + ")]
    assert len(minus) == 1 and "1.99" in minus[0] and len(plus) == 1 and "1.98" in plus[0]
    assert "1 of 2 tests failed" in tested.stderr


def test_the_shipped_schemas_are_what_a_run_of_the_example_captures(tmp_path: Path) -> None:
    """`check --write-schemas` after a real run writes the file the example ships."""
    lake = tmp_path / "lake"
    batchlake("demo", "--dir", str(lake), "--invoices", "300", "--seed", "3")
    (lake / "schemas.toml").unlink()
    batchlake("check", "-p", str(lake), "--write-schemas")
    assert (lake / "schemas.toml").read_text() == (SHIPPED / "schemas.toml").read_text()
