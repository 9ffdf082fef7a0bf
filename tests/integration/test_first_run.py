"""A new user's first commands, run exactly as they are printed or documented.

`batchlake init` prints the command to run next: it is run here in a shell, as printed.
The examples' replay servers (`examples/*/serve.py`) are run from a copy that is not beside
shared/, as in a fresh clone elsewhere: they find the datasets through `--datasets` or
BATCHLAKE_DATASETS, or stop with one line naming both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATASETS_ENV, REPO, dataset, datasets_dir
from tests.support.cli import query_json

BIN = Path(sys.executable).parent
SERVERS = {
    "store-api": "fakestore/products.json",
    "indicators": "worldbank/population.csv",
}


def _env(path: str) -> dict[str, str]:
    drop = {"CHINOOK_URL", DATASETS_ENV}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = path
    return env


def _init(*args: str, cwd: Path, env: dict[str, str]) -> str:
    """Run `batchlake init ARGS` in `cwd`; the command it printed after `next: `."""
    result = subprocess.run(
        [str(BIN / "batchlake"), "init", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    printed = [line for line in result.stderr.splitlines() if line.startswith("next: ")]
    assert len(printed) == 1, result.stderr
    return printed[0].removeprefix("next: ")


def _shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_init_chinook_example_then_the_printed_command_succeeds(tmp_path: Path) -> None:
    env = _env(f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    command = _init("--example", "chinook", "my lake", cwd=tmp_path, env=env)
    assert command == "cd 'my lake' && batchlake run"
    project = tmp_path / "my lake"
    assert (project / "data" / "chinook.sqlite").is_file()

    result = _shell(command, tmp_path, env)

    assert result.returncode == 0, result.stderr[-3000:]
    rows = query_json(project, "SELECT count(*) AS n FROM refined.sales_by_month")
    assert rows[0]["n"] > 0


def test_init_names_batchlake_by_its_path_when_it_is_not_on_path(tmp_path: Path) -> None:
    env = _env("/usr/bin:/bin")  # the venv's bin is not there: `batchlake` alone would fail
    command = _init("empty", cwd=tmp_path, env=env)
    assert command == f"cd empty && {(BIN / 'batchlake').resolve()} run"

    result = _shell(command, tmp_path, env)

    assert result.returncode == 0, result.stderr[-3000:]


def test_init_chinook_without_data_says_how_to_get_a_store(tmp_path: Path) -> None:
    env = _env(f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    command = _init("--example", "chinook", "--no-data", "shop", cwd=tmp_path, env=env)
    assert not (tmp_path / "shop" / "data").exists()
    assert "CHINOOK_URL=" in command and "batchlake demo -p ." in command


def _serve(name: str, tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start a copy of examples/NAME/serve.py outside the clone, so not beside shared/."""
    copy = tmp_path / name / "serve.py"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(REPO / "examples" / name / "serve.py", copy)
    return subprocess.Popen(
        [sys.executable, str(copy), "--port", "0", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_replay_server_without_datasets_fails_with_one_line(name: str, tmp_path: Path) -> None:
    env = _env(os.environ.get("PATH", ""))
    server = _serve(name, tmp_path, env)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 1
    assert len(err.splitlines()) == 1, err
    assert "--datasets DIR" in err and f"{DATASETS_ENV}=DIR" in err
    assert "default beside the repository" in err

    empty = tmp_path / "empty"
    empty.mkdir()
    server = _serve(name, tmp_path / "again", {**env, DATASETS_ENV: str(empty)})
    _, err = server.communicate(timeout=60)
    assert server.returncode == 1
    assert len(err.splitlines()) == 1, err
    assert f"under {empty} ({DATASETS_ENV})" in err


@pytest.mark.parametrize("how", ["option", "variable"])
@pytest.mark.parametrize("name", sorted(SERVERS))
def test_replay_server_finds_datasets_named_by_option_or_variable(
    name: str, how: str, tmp_path: Path
) -> None:
    dataset(SERVERS[name])
    env = _env(os.environ.get("PATH", ""))
    args: tuple[str, ...] = ()
    if how == "option":
        args = ("--datasets", str(datasets_dir()))
    else:
        env[DATASETS_ENV] = str(datasets_dir())
    server = _serve(name, tmp_path, env, *args)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert "http://127.0.0.1:" in first, server.stderr.read() if server.stderr else ""
    finally:
        server.terminate()
        server.communicate(timeout=60)


@pytest.mark.parametrize(
    ("name", "args", "driver"),
    [
        ("store-api", ["--mysql", "mysql://root@127.0.0.1:1/x"], "pymysql"),
        ("multi-db", ["--mysql", "mysql://root@127.0.0.1:1/x"], "pymysql"),
        ("multi-db", ["--postgres", "postgresql://postgres@127.0.0.1:1/x"], "psycopg"),
        ("multi-db", ["--mongo", "mongodb://127.0.0.1:1/x"], "pymongo"),
    ],
)
def test_generator_without_its_driver_fails_with_one_line(
    name: str, args: list[str], driver: str
) -> None:
    """As after `make demo` alone, which does not install the example's database drivers:
    the driver is made unimportable (None in sys.modules), the script runs as __main__."""
    script = REPO / "examples" / name / "generate.py"
    code = (
        f"import runpy, sys; sys.modules[{driver!r}] = None; "
        f"sys.argv = [{str(script)!r}, *{args!r}]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"generate.py needs {driver}: `make install` at the repository root installs it "
        f"(the dev extra), or `.venv/bin/uv pip install {driver}`"
    ]
