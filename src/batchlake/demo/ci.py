"""The CI/CD files `batchlake init` writes into a new project (docs/ci.md).

On every pull request (GitLab: merge request) CI runs `batchlake check` and
`batchlake test`; on the main branch, after both pass, a deploy job runs the pipeline
(`batchlake run`) with the project's secrets. The secrets are the `${VAR}` references
of its `batchlake.toml`: the GitHub workflow maps each from the repository's (or the
`production` environment's) secrets; GitLab passes CI/CD variables as they are.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from batchlake.errors import ConfigError
from batchlake.transform.check import project_variables

GITHUB_WORKFLOW = Path(".github/workflows/batchlake.yml")
GITLAB_CI = Path(".gitlab-ci.yml")

_HEADER = """\
# CI/CD of this batchlake project, written by `batchlake init` (see batchlake's docs/ci.md).
# Every {change}: `batchlake check` (batchlake.toml, every model parses, the DAG, every
# SQL model compiled against its inputs' columns from schemas.toml; no data is read) and
# `batchlake test` (the models' unit tests, models/<zone>/<name>.tests.toml, on DuckDB).
# On the main branch, once both pass, `deploy` runs the pipeline. A CI runner keeps no
# files, so deploy only makes sense for a lake whose storage, catalog and metadata live
# outside it (s3:// storage, a PostgreSQL metadata database, a sql/glue/rest catalog):
# put those URLs in batchlake.toml as ${{VARIABLES}} and define them as secrets.
"""

_GITHUB = """\
name: batchlake

on:
  pull_request:
  push:
    branches: [main]
  workflow_dispatch:

env:
  # How CI installs batchlake: a version from your package index, or a Git URL such as
  # git+https://github.com/<owner>/batchlake@v{version}
  BATCHLAKE_PACKAGE: "batchlake=={version}"
  PYTHON_VERSION: "3.12"

jobs:
  check:
    name: check and test the models
    runs-on: ubuntu-latest
    timeout-minutes: 20
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{{{ env.PYTHON_VERSION }}}}
      - name: install batchlake
        run: pip install "$BATCHLAKE_PACKAGE"
      - name: batchlake check
        run: batchlake check
      - name: batchlake test
        run: batchlake test

  deploy:
    name: run the pipeline
    needs: check
    if: github.event_name == 'push' && github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    # Secrets and protection rules of this environment: Settings > Environments.
    environment: production
    concurrency:
      group: batchlake-deploy
      cancel-in-progress: false
    timeout-minutes: 360
{secrets}    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{{{ env.PYTHON_VERSION }}}}
      - name: install batchlake
        run: pip install "$BATCHLAKE_PACKAGE"
      - name: batchlake run
        run: batchlake run --wait 600
"""

_GITLAB = """\
# Define the variables listed below as masked, protected CI/CD variables
# (Settings > CI/CD > Variables): {variables}.

stages: [check, deploy]

variables:
  # How CI installs batchlake: a version from your package index, or a Git URL such as
  # git+https://github.com/<owner>/batchlake@v{version}
  BATCHLAKE_PACKAGE: "batchlake=={version}"

default:
  image: python:3.12-slim
  before_script:
    - pip install "$BATCHLAKE_PACKAGE"

check:
  stage: check
  script:
    - batchlake check
    - batchlake test
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH

deploy:
  stage: deploy
  script:
    - batchlake run --wait 600
  environment: production
  resource_group: batchlake-deploy
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
"""


def secrets_of(project_file: Path) -> list[str]:
    """The environment variables a `batchlake.toml` reads (`${VAR}`, `${VAR:-default}`)."""
    return project_variables(project_file)


def _version() -> str:
    try:
        return version("batchlake")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.1.0"


def render_github(secrets: list[str]) -> str:
    """The GitHub Actions workflow, with `secrets` passed to the deploy job."""
    block = ""
    if secrets:
        block = "    env:\n" + "".join(f"      {s}: ${{{{ secrets.{s} }}}}\n" for s in secrets)
    body = _GITHUB.format(version=_version(), secrets=block)
    return _HEADER.format(change="pull request") + "\n" + body


def render_gitlab(secrets: list[str]) -> str:
    """The GitLab CI pipeline (its variables reach the jobs as environment variables)."""
    listed = ", ".join(secrets) if secrets else "none yet (the ${VARIABLES} of batchlake.toml)"
    body = _GITLAB.format(version=_version(), variables=listed)
    return _HEADER.format(change="merge request") + body


def write_ci(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the GitHub Actions workflow and the GitLab CI file of the project in
    `directory`; return the files written."""
    secrets = secrets_of(directory / "batchlake.toml")
    written = []
    for relative, text in (
        (GITHUB_WORKFLOW, render_github(secrets)),
        (GITLAB_CI, render_gitlab(secrets)),
    ):
        target = directory / relative
        if target.exists() and not force:
            raise ConfigError(f"{target} already exists; pass --force to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
