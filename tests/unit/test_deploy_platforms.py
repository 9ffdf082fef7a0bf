"""The deployment recipes for a platform, checked without systemd running, a cluster or
Grafana: the systemd units with `systemd-analyze verify`, the Kubernetes manifests
against the Kubernetes schemas (strict) plus references and probes, and every metric of
the Grafana dashboard exported by the code. Each validator is also shown rejecting a
deliberately broken recipe. Compose, the Dockerfile and command lines:
test_deploy_recipes.py.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable
from tests.support.deploy_recipes import (
    DEPLOY,
    K8S_VERSION,
    compose_file,
    serve_paths,
    yaml_documents,
)

PROGRAMS = ("batchlake", "chinook-store")

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")


# -- systemd --------------------------------------------------------------------------------


def _verify_units(units: list[Path], tmp_path: Path) -> str:
    """`systemd-analyze verify` of units whose batchlake path is a stub in tmp_path.

    verify checks that each ExecStart program exists and is executable, so the units are
    verified as copies pointing at a stub; every other line is verified as written.
    Returns what verify printed: nothing when the units are clean.
    """
    program = shutil.which("systemd-analyze")
    if program is None:
        unavailable("systemd-analyze is not installed (apt-get install systemd)")
    stub = tmp_path / "bin" / "batchlake"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    copies = []
    for unit in units:
        copy_path = tmp_path / unit.name
        copy_path.write_text(unit.read_text().replace("/opt/batchlake/bin/batchlake", str(stub)))
        copies.append(str(copy_path))
    done = subprocess.run(
        [program, "verify", *copies], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    return (done.stdout + done.stderr).strip() or ("" if done.returncode == 0 else "failed")


def test_systemd_units_verify_cleanly(tmp_path: Path) -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert [u.name for u in units] == ["batchlake-scheduler.service", "batchlake-serve.service"]
    assert _verify_units(units, tmp_path) == ""


def test_systemd_verify_rejects_a_broken_unit(tmp_path: Path) -> None:
    unit = DEPLOY / "systemd" / "batchlake-serve.service"
    broken = tmp_path / "src" / "batchlake-serve.service"
    broken.parent.mkdir()
    broken.write_text(
        unit.read_text().replace("Type=exec", "Type=eventually").replace("UMask", "UMsk")
    )
    report = _verify_units([broken], tmp_path)
    assert "Failed to parse service type" in report
    assert "Unknown key 'UMsk'" in report


def test_systemd_units_restart_read_secrets_and_are_sandboxed() -> None:
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        settings = dict(line.split("=", 1) for line in unit.read_text().splitlines() if "=" in line)
        assert settings["Restart"] == "on-failure", unit.name
        assert settings["EnvironmentFile"] == "/etc/batchlake/batchlake.env", unit.name
        assert settings["User"] not in ("root", "0"), unit.name
        for key, value in {
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "CapabilityBoundingSet": "",
        }.items():
            assert settings.get(key) == value, f"{unit.name}: {key}"


# -- Kubernetes -----------------------------------------------------------------------------


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    paths = sorted((DEPLOY / "k8s").rglob("*.yaml"))
    return [(p.relative_to(DEPLOY).as_posix(), d) for p in paths for d in yaml_documents(p)]


def _k8s_validate(doc: dict[str, Any]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_manifests_match_the_kubernetes_schemas() -> None:
    manifests = _manifests()
    kinds = sorted(doc["kind"] for _, doc in manifests)
    assert kinds == [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "Deployment",
        "Namespace",
        "Secret",
        "Service",
        "Service",
    ]
    failures = []
    for where, doc in manifests:
        try:
            _k8s_validate(doc)
        except Exception as exc:
            failures.append(f"{where} {doc['kind']}: {getattr(exc, 'message', exc)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "breakage",
    [
        ("a misspelt probe", lambda c: c.update(livenesProbe=c.pop("livenessProbe"))),
        ("a port as text", lambda c: c["ports"][0].update(containerPort="eighty")),
        (
            "a boolean as text",
            lambda c: c["securityContext"].update(allowPrivilegeEscalation="no"),
        ),
    ],
    ids=lambda b: b[0],
)
def test_the_kubernetes_schemas_reject_a_broken_manifest(breakage: Any) -> None:
    serve = next(d for w, d in _manifests() if d["metadata"]["name"] == "batchlake-serve")
    broken = copy.deepcopy(serve)
    breakage[1](broken["spec"]["template"]["spec"]["containers"][0])
    with pytest.raises(Exception, match=r"."):
        _k8s_validate(broken)


def kubernetes_problems(manifests: list[dict[str, Any]]) -> list[str]:
    """References the schemas cannot check: selectors, named ports, ConfigMaps, Secrets."""
    problems = []
    names = {(d["kind"], d["metadata"]["name"]) for d in manifests}
    workloads = [d for d in manifests if d["kind"] in ("Deployment", "CronJob")]
    for doc in workloads:
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        pod = spec["template"]["spec"]
        where = f"{doc['kind']} {doc['metadata']['name']}"
        if doc["kind"] == "Deployment":
            labels = spec["template"]["metadata"]["labels"]
            if spec["selector"]["matchLabels"].items() - labels.items():
                problems.append(f"{where}: selector does not match its pods")
        security = pod.get("securityContext", {})
        if not security.get("runAsNonRoot"):
            problems.append(f"{where}: pods may run as root")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            ports = {p.get("name") for p in container.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                action = container.get(probe, {})
                port = (action.get("httpGet") or action.get("tcpSocket") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    problems.append(f"{where}: {probe} uses unknown port {port}")
            for source in container.get("envFrom", []):
                secret = source.get("secretRef", {}).get("name")
                if secret and ("Secret", secret) not in names:
                    problems.append(f"{where}: no Secret {secret}")
            for mount in container.get("volumeMounts", []):
                volume = volumes.get(mount["name"])
                if volume is None:
                    problems.append(f"{where}: mounts unknown volume {mount['name']}")
                elif "configMap" in volume and (
                    ("ConfigMap", volume["configMap"]["name"]) not in names
                ):
                    problems.append(f"{where}: no ConfigMap {volume['configMap']['name']}")
    for service in (d for d in manifests if d["kind"] == "Service"):
        selected = [
            w
            for w in workloads
            if w["kind"] == "Deployment"
            and service["spec"]["selector"].items()
            <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        if not selected:
            problems.append(f"Service {service['metadata']['name']} selects no pods")
            continue
        container_ports = {
            p.get("name")
            for c in selected[0]["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            if port["targetPort"] not in container_ports:
                problems.append(f"Service {service['metadata']['name']}: no port {port}")
    return problems


def test_kubernetes_references_resolve() -> None:
    manifests = [doc for _, doc in _manifests()]
    assert kubernetes_problems(manifests) == []
    broken = copy.deepcopy(manifests)
    for doc in broken:
        if doc["kind"] == "Service":
            doc["spec"]["selector"] = {"app.kubernetes.io/component": "nothing"}
        if doc["kind"] == "ConfigMap":
            doc["metadata"]["name"] = "renamed"
    problems = kubernetes_problems(broken)
    assert any("selects no pods" in p for p in problems), problems
    assert any("no ConfigMap batchlake-project" in p for p in problems), problems


def test_kubernetes_probes_ask_for_paths_batchlake_serves() -> None:
    serve = next(d for _, d in _manifests() if d["metadata"]["name"] == "batchlake-serve")
    container = serve["spec"]["template"]["spec"]["containers"][0]
    probes = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
    assert probes == {"/api/v1/health", "/api/v1/ready"}
    assert probes <= serve_paths()


def test_serve_answers_its_probes(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from batchlake.demo.scaffold import create_project
    from batchlake.serve.app import create_app

    create_project(tmp_path, example="chinook")
    with TestClient(create_app(tmp_path, env_keys="")) as client:
        for path in sorted(serve_paths()):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)


# -- Grafana --------------------------------------------------------------------------------


def exported_metrics(tmp_path: Path) -> dict[str, set[str]]:
    """Sample names the code exports (scheduler and serve), each with its label names."""
    from prometheus_client import CollectorRegistry

    from batchlake.demo.scaffold import create_project
    from batchlake.lake import Lake
    from batchlake.ops.monitoring import LakeCollector
    from batchlake.serve.metrics import ServeMetrics

    create_project(tmp_path, example="chinook")
    lake = Lake.open(tmp_path)
    serve = ServeMetrics(lake)
    serve.observe("GET", "/api/v1/health", 200, 0.0)
    serve.run_finished("success", 1.0)
    scheduler = CollectorRegistry()
    scheduler.register(LakeCollector(lake))
    suffixes = {
        "counter": ["_total", "_created"],
        "histogram": ["_bucket", "_count", "_sum", "_created"],
        "gauge": [""],
    }
    exported: dict[str, set[str]] = {}
    for registry in (serve.registry, scheduler):
        for family in registry.collect():
            labels = set(getattr(family, "_labelnames", ()))
            labels |= {label for sample in family.samples for label in sample.labels}
            for suffix in suffixes.get(family.type, [""]):
                name = family.name + suffix
                extra = {"le"} if suffix == "_bucket" else set()
                exported.setdefault(name, set()).update(labels - {"le"} | extra)
    return exported


# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


def dashboard_problems(dashboard: dict[str, Any], exported: dict[str, set[str]]) -> list[str]:
    """Panels whose queries use a metric or a label the code does not export."""
    problems = []
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        problems.append("panel ids repeat")
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        if not panel.get("targets"):
            problems.append(f"{panel['title']}: no query")
        for target in panel.get("targets", []):
            expr = target["expr"]
            metrics = set(re.findall(r"\bbatchlake_[a-z_]+\b", expr))
            if not metrics:
                problems.append(f"{panel['title']}: no batchlake metric in {expr}")
            unknown = metrics - set(exported)
            if unknown:
                problems.append(f"{panel['title']}: {sorted(unknown)} not exported")
                continue
            labels = set().union(*(exported[m] for m in metrics)) | TARGET_LABELS
            used = set(re.findall(r"([a-z_]+)\s*=~?", expr))
            for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
                used |= {label.strip() for label in group.split(",")}
            used |= set(re.findall(r"\{\{\s*([a-z_]+)\s*\}\}", target.get("legendFormat", "")))
            if used - labels:
                problems.append(f"{panel['title']}: labels {sorted(used - labels)} unknown")
    return problems


def test_every_dashboard_panel_queries_metrics_the_code_exports(tmp_path: Path) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "batchlake.json").read_text())
    exported = exported_metrics(tmp_path)
    assert "batchlake_runs_total" in exported
    assert "batchlake_http_request_seconds_bucket" in exported
    assert dashboard_problems(dashboard, exported) == []
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    used = {
        m for p in panels for t in p["targets"] for m in re.findall(r"batchlake_\w+", t["expr"])
    }
    families = {re.sub(r"_(total|bucket|sum|count)$", "", m) for m in used}
    exported_families = {re.sub(r"_(total|bucket|sum|count|created)$", "", m) for m in exported}
    assert families == exported_families, "a metric the code exports has no panel"


def test_the_dashboard_check_catches_a_wrong_metric_or_label(tmp_path: Path) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "batchlake.json").read_text())
    exported = exported_metrics(tmp_path)
    broken = copy.deepcopy(dashboard)
    panels = [p for p in broken["panels"] if p["type"] != "row"]
    panels[0]["targets"][0]["expr"] = "sum(batchlake_run_total)"
    panels[1]["targets"][0]["expr"] = "sum by (table_name) (batchlake_table_rows)"
    problems = dashboard_problems(broken, exported)
    assert any("batchlake_run_total" in p for p in problems), problems
    assert any("table_name" in p for p in problems), problems


def test_the_compose_monitoring_profile_provisions_the_dashboard() -> None:
    services = compose_file()["services"]
    grafana_mounts = services["grafana"]["volumes"]
    assert any(m.startswith("./grafana:") for m in grafana_mounts)
    prometheus = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0]
        for job in prometheus["scrape_configs"]
    }
    assert targets == {"batchlake-scheduler": "scheduler:9464", "batchlake-serve": "serve:8080"}
    dashboard = (DEPLOY / "grafana" / "batchlake.json").read_text()
    for job in targets:  # the dashboard tells the two batchlake_runs_total apart by job
        assert f'job=\\"{job}\\"' in dashboard, job
