"""The Helm chart, rendered by the real Helm engine (helm-python-sdk embeds Helm v4) and every
manifest validated against the Kubernetes schemas (kubernetes-validate), for default values and
for values with every optional part switched on."""

from __future__ import annotations

import base64
import ipaddress
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
PRODUCTION = yaml.safe_load((CHART / "examples" / "production-values.yaml").read_text())
KUBE_VERSION = kubernetes_validate.latest_version()
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
# No image is published, so every render names one (as an operator must).
IMAGE = {"image": {"repository": "registry.example.com/ocpi-hub"}}


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def render(values: dict[str, Any], *, image: bool = True) -> list[dict[str, Any]]:
    chart = helm_python.Chart.load(CHART)
    try:
        files = chart.render(merged(IMAGE, values) if image else values, name="hub", namespace="ocpi",
                             is_install=True)
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
    for values in (IMAGE, merged(IMAGE, FULL), PRODUCTION):
        report = helm_python.lint(CHART, values, strict=True)
        assert report["errors"] == [], report
        assert all(m["severity"] < 2 for m in report["messages"]), report


@pytest.mark.parametrize("values", [{}, FULL, {"secrets": {"existingSecret": "hub-secrets"}, "migrations":
                                                {"enabled": False}, "podDisruptionBudget": {"enabled": False}},
                                    PRODUCTION, {"networkPolicy": {"enabled": True}, "spread": {"zones": False}}],
                         ids=["defaults", "everything", "existing-secret", "production-example", "network-policy"])
def test_every_manifest_is_valid_kubernetes(values: dict[str, Any]) -> None:
    docs = render(values)
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            continue  # checked by the tests of those objects below
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
    # Grace covers preStop (3) + drain (5) + in-flight grace (30) + broadcast delivery (5) + writing a full
    # backlog to the outbox (200,000 / 20,000 + 128 MiB / 20 MiB = 16.4 -> 17) + margin (5).
    assert pod["terminationGracePeriodSeconds"] == 65
    assert hub["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "3"]
    assert pod["initContainers"][0]["args"] == ["migrate"]
    assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
                                         "ServiceAccount", "Pod"}
    assert not by_kind(docs, "Ingress") and not by_kind(docs, "HorizontalPodAutoscaler")
    assert not by_kind(docs, "ServiceMonitor")


def test_grace_period_grows_with_the_broadcast_backlog_it_may_have_to_write() -> None:
    def grace(values: dict[str, Any]) -> int:
        [deployment] = by_kind(render(values), "Deployment")
        return int(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])

    assert grace({"hub": {"broadcast": {"backlogEntries": 1_000_000}}}) == 65 + 40
    assert grace({"hub": {"broadcast": {"shutdownSeconds": 20}}}) == 65 + 15
    assert grace({"hub": {"workers": 2}}) == 65 + 16, "each worker writes its own backlog"
    config = next(d for d in by_kind(render({"hub": {"broadcast": {"backlogBytes": 2**28}}}), "ConfigMap")
                  if "OCPI_HUB_PORT" in d.get("data", {}))
    assert config["data"]["OCPI_HUB_BROADCAST_BACKLOG_BYTES"] == str(2**28)
    assert config["data"]["OCPI_HUB_BROADCAST_BACKLOG_ENTRIES"] == "200000"
    assert config["data"]["OCPI_HUB_BROADCAST_SHUTDOWN_SECONDS"] == "5"


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
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    config = next(d for d in by_kind(docs, "ConfigMap") if "OCPI_HUB_PORT" in d.get("data", {}))
    assert config["data"]["OCPI_HUB_PUBLIC_URL"] == "https://hub.example.com"
    assert config["data"]["OCPI_HUB_WORKERS"] == "2"
    assert config["data"]["OCPI_HUB_BROADCAST_CONCURRENCY"] == "128"
    assert config["data"]["OCPI_HUB_OUTBOUND_ALLOW"] == "10.20.0.0/16, fd00:20::/48"
    assert config["data"]["OCPI_HUB_OUTBOUND_ALLOW_HTTP"] == "true"
    dashboard = next(d for d in by_kind(docs, "ConfigMap") if "ocpi-hub.json" in d.get("data", {}))
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["ocpi-hub.json"])["uid"] == "ocpi-hub"


def test_the_chart_lets_partners_reach_public_https_addresses_only_by_default() -> None:
    config = next(d for d in by_kind(render({}), "ConfigMap") if "OCPI_HUB_PORT" in d.get("data", {}))
    assert config["data"]["OCPI_HUB_OUTBOUND_ALLOW"] == ""
    assert config["data"]["OCPI_HUB_OUTBOUND_ALLOW_HTTP"] == "false"


def test_existing_secret_replaces_the_charts_secret() -> None:
    docs = render({"secrets": {"existingSecret": "hub-secrets"}})
    assert not by_kind(docs, "Secret")
    [deployment] = by_kind(docs, "Deployment")
    refs = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "hub-secrets"}} in refs


def test_agreements_mode_reaches_the_hub() -> None:
    def mode(values: dict[str, Any]) -> str:
        config = next(d for d in by_kind(render(values), "ConfigMap") if "OCPI_HUB_PORT" in d.get("data", {}))
        return str(config["data"]["OCPI_HUB_AGREEMENTS"])

    assert (mode({}), mode({"hub": {"agreements": "required"}})) == ("open", "required")


@pytest.mark.parametrize("values", [{"bogus": 1}, {"hub": {"partyId": "TOOLONG"}}, {"hub": {"workers": 0}},
                                    {"ingress": {"enabled": "yes"}}, {"hub": {"outboundAllow": "internal.example"}},
                                    {"hub": {"agreements": "strict"}}, {"hub": {"broadcast": {"backlogEntries": 0}}},
                                    {"networkPolicy": {"partnerExcept": ["metadata.internal"]}},
                                    {"hub": {"extraEnv": {"OCPI_HUB_BROADCAST_BACKLOG_BYTES": "1"}}}])
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
    for words in ("request rate", "latency", "error ratio", "broadcast", "parties by status", "policy denials",
                  "broadcast backlog", "refusals, coalescing and expiry"):
        assert words in titles
    assert dashboard_metric_names()


def test_without_an_image_rendering_stops_saying_how_to_get_one() -> None:
    with pytest.raises(helm_python.HelmError, match=r"no ocpi-hub image is published\. Build one"):
        render({}, image=False)


def test_every_setting_the_chart_writes_is_one_the_hub_knows() -> None:
    from hub.config import PREFIX, Config

    known = {PREFIX + name.upper() for name in Config.__struct_fields__}
    config = next(d for d in by_kind(render(FULL), "ConfigMap") if "OCPI_HUB_PORT" in d.get("data", {}))
    assert set(config["data"]) <= known, set(config["data"]) - known
    assert config["data"]["OCPI_HUB_DATABASE_POOL_SIZE"] == "5"


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [deployment] = by_kind(docs, "Deployment")
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_replicas_spread_over_nodes_by_default() -> None:
    docs = render({})
    [deployment] = by_kind(docs, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    spread = {c["topologyKey"]: c for c in pod_spec(docs)["topologySpreadConstraints"]}
    node = spread["kubernetes.io/hostname"]
    assert (node["maxSkew"], node["whenUnsatisfiable"]) == (1, "DoNotSchedule")
    assert node["labelSelector"]["matchLabels"] == selector
    assert spread["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert "topologySpreadConstraints" not in pod_spec(render({"spread": {"nodes": False, "zones": False}}))
    own = [{"maxSkew": 2, "topologyKey": "rack", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "x"}}}]
    assert pod_spec(render({"topologySpreadConstraints": own}))["topologySpreadConstraints"] == own


def test_other_pods_of_the_release_never_match_the_deployment_selector() -> None:
    # A bare pod matching the selector would be adopted (and maybe deleted) by the ReplicaSet and counted
    # by the PodDisruptionBudget and the topology spread.
    docs = render(PRODUCTION)
    [deployment] = by_kind(docs, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"].items()
    [test_pod] = by_kind(docs, "Pod")
    [job] = by_kind(docs, "Job")
    for labels in (test_pod["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert not selector <= labels.items(), labels
    assert selector <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_production_example_uses_its_own_secrets_a_verified_database_and_three_spread_replicas() -> None:
    docs = render(PRODUCTION, image=False)
    assert not by_kind(docs, "Secret"), "secrets come from the operator's existing Secret"
    [deployment] = by_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    pod = pod_spec(docs)
    [hub] = pod["containers"]
    assert hub["image"] == "registry.example.com/ocpi-hub:0.1.0"
    assert {"secretRef": {"name": "ocpi-hub-secrets"}} in hub["envFrom"]
    assert hub["resources"]["requests"]["cpu"] == "500m"
    assert {"name": "db-ca", "secret": {"secretName": "ocpi-hub-db-ca", "defaultMode": 0o444}} in pod["volumes"]
    assert {"name": "db-ca", "mountPath": "/etc/ocpi-hub/db-ca", "readOnly": True} in hub["volumeMounts"]
    assert "sslmode=verify-full&sslrootcert=/etc/ocpi-hub/db-ca/ca.crt" in (
        CHART / "examples" / "production-values.yaml").read_text()
    assert any(c["topologyKey"] == "kubernetes.io/hostname" for c in pod["topologySpreadConstraints"])
    [pdb] = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    # Migrations run once, in a hook Job that sees the same Secret and CA, not in every pod.
    assert "initContainers" not in pod
    [job] = by_kind(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate"] and migrate["image"] == hub["image"]
    assert {"secretRef": {"name": "ocpi-hub-secrets"}} in migrate["envFrom"]
    assert {"name": "db-ca", "mountPath": "/etc/ocpi-hub/db-ca", "readOnly": True} in migrate["volumeMounts"]
    assert by_kind(docs, "NetworkPolicy") and by_kind(docs, "PrometheusRule") and by_kind(docs, "ServiceMonitor")
    # Behind ingress-nginx the hub must believe the controller's X-Forwarded-For, or every partner has one address.
    config = next(d for d in by_kind(docs, "ConfigMap") if "OCPI_HUB_PORT" in d.get("data", {}))
    assert config["data"]["OCPI_HUB_TRUSTED_PROXIES"] == "10.244.0.0/16"
    assert "pod CIDR" in (CHART / "examples" / "production-values.yaml").read_text()
    # The README says production runs with agreements required: so does the example.
    assert config["data"]["OCPI_HUB_AGREEMENTS"] == "required"
    [policy] = by_kind(docs, "NetworkPolicy")
    assert "169.254.169.254/32" in policy_excepts(policy), "no partner URL reaches the cloud metadata service"


def test_migration_job_needs_an_existing_secret() -> None:
    with pytest.raises(helm_python.HelmError, match=r"migrations\.mode=job needs secrets\.existingSecret"):
        render({"migrations": {"mode": "job"}})


def test_extra_env_and_volumes_reach_the_hub_and_its_init_container() -> None:
    env = [{"name": "SSL_CERT_FILE", "value": "/etc/ca/bundle.pem"},
           {"name": "PGSSLROOTCERT", "valueFrom": {"secretKeyRef": {"name": "db", "key": "ca"}}}]
    pod = pod_spec(render({"env": env, "envFrom": [{"secretRef": {"name": "more"}}],
                           "extraVolumes": [{"name": "ca", "configMap": {"name": "ca-bundle"}}],
                           "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/ca"}]}))
    for container in (pod["containers"][0], pod["initContainers"][0]):
        assert container["env"] == env
        assert container["envFrom"][-1] == {"secretRef": {"name": "more"}}
        assert {"name": "ca", "mountPath": "/etc/ca"} in container["volumeMounts"]
    assert {"name": "ca", "configMap": {"name": "ca-bundle"}} in pod["volumes"]


def test_network_policy_lets_in_ingress_monitoring_and_tests_and_out_dns_database_partners() -> None:
    docs = render({"networkPolicy": {"enabled": True, "databasePeers": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                                     "partnerPorts": [443, 8443]}})
    [policy] = by_kind(docs, "NetworkPolicy")
    [deployment] = by_kind(docs, "Deployment")
    assert policy["spec"]["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    [inbound] = policy["spec"]["ingress"]
    assert inbound["ports"] == [{"port": "http", "protocol": "TCP"}]
    namespaces = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for p in inbound["from"] if "namespaceSelector" in p]
    assert namespaces == ["ingress-nginx", "monitoring"]
    [test_pod] = by_kind(docs, "Pod")
    [pods] = [p["podSelector"]["matchLabels"] for p in inbound["from"] if "podSelector" in p]
    assert pods.items() <= test_pod["metadata"]["labels"].items(), "the helm test pod may call /readyz"
    dns, database, partners = policy["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert database == {"ports": [{"port": 5432, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}
    assert [p["port"] for p in partners["ports"]] == [443, 8443]
    assert not by_kind(render({}), "NetworkPolicy"), "off by default"


def policy_excepts(policy: dict[str, Any]) -> set[str]:
    """Addresses (as /32 or wider networks) the partner egress rule of ``policy`` cannot reach: every
    network excepted from all of its ipBlock peers that span the whole IPv4 space."""
    partners = policy["spec"]["egress"][2]
    blocks = [p["ipBlock"] for p in partners["to"] if "ipBlock" in p]
    excepted = [{ipaddress.IPv4Network(n) for n in b.get("except", [])} for b in blocks
                if b["cidr"] == "0.0.0.0/0"]
    probes = ("10.96.0.1/32", "172.17.0.1/32", "192.168.1.1/32", "100.64.0.1/32", "169.254.169.254/32",
              "127.0.0.1/32", "203.0.113.7/32")
    return {p for p in probes if excepted and all(any(ipaddress.IPv4Network(p).subnet_of(n) for n in e)
                                                  for e in excepted)}


def test_network_policy_keeps_partner_traffic_off_private_link_local_and_cgnat_addresses() -> None:
    def policy(values: dict[str, Any]) -> dict[str, Any]:
        [found] = by_kind(render({"networkPolicy": {"enabled": True} | values}), "NetworkPolicy")
        return found

    everything_private = {"10.96.0.1/32", "172.17.0.1/32", "192.168.1.1/32", "100.64.0.1/32", "169.254.169.254/32",
                          "127.0.0.1/32"}
    assert policy_excepts(policy({})) == everything_private, "a public partner address stays reachable"
    # The knob: the operator's own list, or none.
    assert policy_excepts(policy({"partnerExcept": ["169.254.0.0/16"]})) == {"169.254.169.254/32"}
    assert policy_excepts(policy({"partnerExcept": []})) == set()
    # A partner inside a private range gets a peer of its own; an except the operator wrote is kept.
    own = policy({"partnerPeers": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
                                   {"ipBlock": {"cidr": "10.20.0.0/16"}}]})
    assert own["spec"]["egress"][2]["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
                                              {"ipBlock": {"cidr": "10.20.0.0/16"}}]
    kubernetes_validate.validate(own, KUBE_VERSION, strict=True)


def test_prometheus_rule_carries_the_rules_file_as_it_is() -> None:
    [rule] = by_kind(render({"prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}}}),
                     "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    shipped = yaml.safe_load((CHART / "alerts" / "ocpi-hub.rules.yaml").read_text())
    assert rule["spec"]["groups"] == shipped["groups"]
    assert "{{ $labels.outcome }}" in json.dumps(rule), "Prometheus templates pass through Helm untouched"
    assert not by_kind(render({}), "PrometheusRule")


def values_keys_without_comment() -> list[str]:
    """Keys of values.yaml that the schema defines (the chart's own, not Kubernetes objects passed
    through) and that have no comment on the line(s) above them."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    missing: list[str] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the keys enclosing this line
    lines = (CHART / "values.yaml").read_text().splitlines()
    for n, line in enumerate(lines):
        found = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):", line)
        if not found:
            continue
        indent, key = len(found.group(1)), found.group(2)
        stack = [(i, k) for i, k in stack if i < indent] + [(indent, key)]
        node: Any = schema
        for _, part in stack:
            node = (node or {}).get("properties", {}).get(part)
        parent: Any = schema
        for _, part in stack[:-1]:
            parent = (parent or {}).get("properties", {}).get(part)
        if node is None or not (parent or {}).get("properties"):
            continue  # inside an object the chart passes through (securityContext, resources, ...)
        if not lines[n - 1].strip().startswith("#"):
            missing.append(".".join(k for _, k in stack))
    return missing


def test_every_values_key_of_the_chart_has_a_comment() -> None:
    assert values_keys_without_comment() == []


def test_the_secrets_key_is_generated_or_taken_from_values_and_reaches_the_pods() -> None:
    from partners.secrets import new_key, parse_key

    def key_in(docs: list[dict[str, Any]]) -> str:
        [secret] = by_kind(docs, "Secret")
        return base64.b64decode(secret["data"]["OCPI_HUB_SECRETS_KEY"]).decode()

    generated = key_in(render({}))
    assert len(parse_key(generated)) == 32 and generated != key_in(render({}))
    mine = new_key()
    assert key_in(render({"secrets": {"secretsKey": mine}})) == mine


def test_dashboard_and_alerts_read_no_created_series() -> None:
    # The hub exports no *_created series (hub.metrics turns them off): a query on one would see nothing.
    for path in (CHART / "dashboards" / "ocpi-hub.json", CHART / "alerts" / "ocpi-hub.rules.yaml"):
        assert not re.search(r"\bocpihub_\w*_created\b", path.read_text()), path


def test_every_dashboard_metric_is_one_the_hub_exports() -> None:
    from hub.metrics import Metrics
    from partners.registry import Registry

    exported = {sample.name for family in Metrics(Registry()).registry.collect() for sample in family.samples}
    exported |= {"ocpihub_platforms", "ocpihub_parties"}  # computed at scrape from the registry snapshot
    assert dashboard_metric_names() <= exported | {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in exported}
