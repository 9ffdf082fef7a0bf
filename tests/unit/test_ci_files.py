"""The CI files `batchlake init` writes into a project (validated against the forges'
schemas and run on Chinook in tests/integration/test_ci_workflow.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.demo.ci import GITHUB_WORKFLOW, GITLAB_CI, secrets_of
from batchlake.demo.scaffold import create_project
from batchlake.errors import ConfigError
from batchlake.transform.check import check_project
from batchlake.transform.unit_tests import run_unit_tests


def test_secrets_are_the_variables_the_project_file_reads(tmp_path: Path) -> None:
    project = tmp_path / "batchlake.toml"
    project.write_text(
        'url = "postgresql://etl@db/shop?password=${SHOP_PASSWORD}"\n'
        'root = "${LAKE_ROOT:-lake}"\n'
        '# url = "${COMMENTED_OUT}"\n'
        'token = "${SHOP_PASSWORD}"\n'
    )
    assert secrets_of(project) == ["LAKE_ROOT", "SHOP_PASSWORD"]
    assert secrets_of(tmp_path / "missing.toml") == []


def test_an_empty_project_gets_ci_that_passes_with_no_models(tmp_path: Path) -> None:
    created = create_project(tmp_path / "p")
    assert tmp_path / "p" / GITHUB_WORKFLOW in created and tmp_path / "p" / GITLAB_CI in created
    workflow = (tmp_path / "p" / GITHUB_WORKFLOW).read_text()
    assert "batchlake check" in workflow and "${{ secrets." not in workflow  # nothing to pass
    result = check_project(tmp_path / "p")
    assert result.ok and result.compiled == []
    assert run_unit_tests(tmp_path / "p") == []


def test_existing_ci_files_are_kept_unless_forced(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / GITHUB_WORKFLOW).parent.mkdir(parents=True)
    (root / GITHUB_WORKFLOW).write_text("name: mine\n")
    with pytest.raises(ConfigError, match=r"batchlake.yml already exists; pass --force"):
        create_project(root)
    assert (root / GITHUB_WORKFLOW).read_text() == "name: mine\n"
    create_project(root, force=True)
    assert "batchlake test" in (root / GITHUB_WORKFLOW).read_text()
