"""The Helm chart, rendered by the real Helm engine (helm-python-sdk embeds Helm v4) and every
manifest validated against the Kubernetes schemas (kubernetes-validate), for default values and
for values with every optional part switched on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "ocpi-hub"
FULL = yaml.safe_load((CHART / "ci" / "full-values.yaml").read_text())
KUBE_VERSION = kubernetes_validate.latest_version()
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    chart = helm_python.Chart.load(CHART)
    try:
        files = chart.render(values, name="hub", namespace="ocpi", is_install=True)
    finally:
        chart.close()
    docs = []
    for path, text in files.items():
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_lint_reports_no_errors() -> None:
    for values in ({}, FULL):
        report = helm_python.lint(CHART, values, strict=True)
        assert report["errors"] == [], report
        assert all(m["severity"] < 2 for m in report["messages"]), report


@pytest.mark.parametrize("values", [{}, FULL, {"secrets": {"existingSecret": "hub-secrets"}, "migrations":
                                                {"enabled": False}, "podDisruptionBudget": {"enabled": False}}],
                         ids=["defaults", "everything", "existing-secret"])
def test_every_manifest_is_valid_kubernetes(values: dict[str, Any]) -> None:
    docs = render(values)
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            assert doc["spec"]["endpoints"][0]["path"] == "/metrics"
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_default_deployment_is_locked_down_and_probed() -> None:
    docs = render({})
    [deployment] = by_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [hub] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert hub["securityContext"]["readOnlyRootFilesystem"] is True
    assert hub["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert hub["securityContext"]["allowPrivilegeEscalation"] is False
    assert hub["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert hub["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # Grace covers preStop (3) + drain (5) + in-flight grace (30) + margin.
    assert pod["terminationGracePeriodSeconds"] == 43
    assert hub["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "3"]
    assert pod["initContainers"][0]["args"] == ["migrate"]
    assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
                                         "ServiceAccount", "Pod"}
    assert not by_kind(docs, "Ingress") and not by_kind(docs, "HorizontalPodAutoscaler")
    assert not by_kind(docs, "ServiceMonitor")


def test_configuration_change_rolls_the_pods() -> None:
    def checksum(values: dict[str, Any]) -> str:
        [deployment] = by_kind(render(values), "Deployment")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum({}) == checksum({})
    assert checksum({}) != checksum({"hub": {"logLevel": "DEBUG"}})


def test_everything_enabled() -> None:
    docs = render(FULL)
    [deployment] = by_kind(docs, "Deployment")
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    [hpa] = by_kind(docs, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    [ingress] = by_kind(docs, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "hub.example.com"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/ocpi"
    [monitor] = by_kind(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    config = next(d for d in by_kind(docs, "ConfigMap") if "OCPI_HUB_PORT" in d.get("data", {}))
    assert config["data"]["OCPI_HUB_PUBLIC_URL"] == "https://hub.example.com"
    assert config["data"]["OCPI_HUB_WORKERS"] == "2"
    assert config["data"]["OCPI_HUB_BROADCAST_CONCURRENCY"] == "128"
    dashboard = next(d for d in by_kind(docs, "ConfigMap") if "ocpi-hub.json" in d.get("data", {}))
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["ocpi-hub.json"])["uid"] == "ocpi-hub"


def test_existing_secret_replaces_the_charts_secret() -> None:
    docs = render({"secrets": {"existingSecret": "hub-secrets"}})
    assert not by_kind(docs, "Secret")
    [deployment] = by_kind(docs, "Deployment")
    refs = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "hub-secrets"}} in refs


@pytest.mark.parametrize("values", [{"bogus": 1}, {"hub": {"partyId": "TOOLONG"}}, {"hub": {"workers": 0}},
                                    {"ingress": {"enabled": "yes"}}])
def test_schema_rejects_unknown_or_malformed_values(values: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmError):
        render(values)


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads((CHART / "dashboards" / "ocpi-hub.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return {re.sub(r"_(bucket|count|sum)$", "", n) for e in exprs for n in re.findall(r"\bocpihub_[a-z_]+", e)}


def test_dashboard_has_the_panels_operators_need() -> None:
    dashboard = json.loads((CHART / "dashboards" / "ocpi-hub.json").read_text())
    titles = " | ".join(p["title"] for p in dashboard["panels"]).lower()
    for words in ("request rate", "latency", "error ratio", "broadcast", "parties by status"):
        assert words in titles
    assert dashboard_metric_names()
