"""Offline checks of the monitoring files in ``deploy/``: the Grafana dashboard, its
provisioning, the Prometheus configuration and the optional monitoring services of the Swarm
stack.

* ``deploy/grafana/dashboards/gpsa.json``: valid JSON with the fields Grafana reads (panels,
  targets, data source, grid positions, template variables), panels for every quantity of the
  issue (event rates per crystal and stage, PSA time per block, queue depths, failures, alarms,
  process CPU and memory, GPU use), and **every gpsa metric name in its PromQL expressions
  exists**: the names are collected from the ``/metrics`` page of a real ``gpsa run`` (another
  process, paced, with an alarm that fires), plus the GPU collector's families where this
  machine has no NVML to make them appear on the page.
* The provisioning files load and agree with the dashboard (data source uid, folder path).
* ``deploy/prometheus.yml`` loads, follows the port rule of docs/monitoring.md, and passes
  ``promtool check config`` where promtool is installed (Debian's ``prometheus`` package).
* The stack's ``prometheus``, ``prometheus-targets`` and ``grafana`` services are off by
  default, on with ``GPSA_MONITORING=1``, and mount exactly these files.

(The dashboard's expressions are also evaluated by a real Prometheus scraping a real run in
``tests/monitor/test_prometheus_server.py``.)
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

from .test_deploy_files import load_stack, schema_errors  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "gpsa.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "gpsa.yml"
PROMETHEUS = DEPLOY / "prometheus.yml"
MONITORING_SERVICES = ("prometheus", "prometheus-targets", "grafana")

_METRIC = re.compile(r"(?<![A-Za-z0-9_:])gpsa_[a-z0-9_]+")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


# --- the dashboard's expressions -------------------------------------------------------------

def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves left out."""
    out: list[dict[str, Any]] = []
    for p in dash["panels"]:
        out.extend(p.get("panels", []))
        if p["type"] != "row":
            out.append(p)
    return out


def expressions(dash: dict[str, Any]) -> list[str]:
    """The PromQL of every panel target and of every query template variable."""
    exprs = [t["expr"] for p in panels(dash) for t in p["targets"]]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]
            exprs.append(q["query"] if isinstance(q, dict) else q)
    return exprs


def metric_names(expr: str, histograms: set[str]) -> set[str]:
    """The gpsa metric names an expression reads: identifiers starting with ``gpsa_`` outside
    strings (label values such as ``stage="psa"`` are not names), a histogram's ``_bucket``,
    ``_sum`` and ``_count`` series mapped to the histogram."""
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    names = set()
    for name in _METRIC.findall(code):
        for suffix in _HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name[:-len(suffix)] in histograms:
                name = name[:-len(suffix)]
        names.add(name)
    return names


def test_metric_names_are_parsed_from_promql() -> None:
    hist = {"gpsa_block_seconds"}
    expr = ('histogram_quantile(0.9, sum by (le) (rate(gpsa_block_seconds_bucket'
            '{stage="gpsa_not_a_name", crystal=~"$crystal"}[1m]))) / '
            'sum(gpsa_events_total) + on() gpsa_block_seconds_count - gpsa_x_count')
    assert metric_names(expr, hist) == {"gpsa_block_seconds", "gpsa_events_total",
                                        "gpsa_x_count"}


def test_dashboard_is_a_grafana_dashboard() -> None:
    dash = load_dashboard()
    for key in ("uid", "title", "panels", "schemaVersion", "templating", "time"):
        assert key in dash, key
    assert isinstance(dash["schemaVersion"], int) and dash["panels"]
    uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    ids = [p["id"] for p in dash["panels"]] + [p["id"] for p in panels(dash)
                                               if p not in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels(dash):
        where = f"panel {p['id']} {p['title']!r}"
        assert p["type"] in {"timeseries", "stat", "bargauge", "gauge", "table"}, where
        assert p["datasource"] == {"type": "prometheus", "uid": uid}, where
        grid = p["gridPos"]
        assert grid["w"] >= 1 and grid["h"] >= 1 and grid["x"] + grid["w"] <= 24, where
        assert p["targets"], where
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), where
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"]["uid"] == uid, where
    # Template variables: each used as $name somewhere, each query variable on the data source.
    text = DASHBOARD.read_text()
    for var in dash["templating"]["list"]:
        assert f"${var['name']}" in text.replace(f'"name": "{var["name"]}"', ""), var["name"]
        if var["type"] == "query":
            assert var["datasource"]["uid"] == uid


def test_dashboard_has_the_panels_of_the_issue() -> None:
    exprs = expressions(load_dashboard())
    joined = "\n".join(exprs)

    def has(pattern: str) -> bool:
        return any(re.search(pattern, e) for e in exprs)

    assert has(r"sum by \(crystal, stage\) \(rate\(gpsa_events_total\{[^}]*\}\[1m\]\)\)"), joined
    assert has(r'histogram_quantile\(0\.\d+, sum by \(le, crystal\) '
               r'\(rate\(gpsa_block_seconds_bucket\{[^}]*stage="psa"[^}]*\}\[1m\]\)\)\)')
    for name in ("gpsa_queue_depth", "gpsa_errors_total", "gpsa_alarms_total",
                 "gpsa_alarm_active", "gpsa_process_cpu_seconds_total",
                 "gpsa_process_resident_memory_bytes", "gpsa_gpu_utilization_ratio",
                 "gpsa_gpu_memory_used_bytes", "gpsa_bytes_total", "gpsa_busy_seconds_total"):
        assert name in joined, name


# --- the names a real run serves ---------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_run(folder: Path, basis: Path, port: int) -> Path:
    """simulator (paced) -> psa -> adf-writer with metrics on ``port`` and an alarm that fires
    at once (errors above -1), so that the alarm families have samples."""
    path = folder / "run.toml"
    path.write_text(textwrap.dedent(f"""\
        [run]
        crystals = ["00A"]
        output = "out"
        metrics_port = {port}
        monitor_interval = 0.2

        [[stage]]
        actor = "simulator"
        basis = "{basis}"
        events = 400
        block_size = 20
        rate_hz = 100.0

        [[stage]]
        actor = "psa"
        basis = "{basis}"

        [[stage]]
        actor = "adf-writer"

        [[alarm]]
        name = "always"
        metric = "errors"
        condition = "above"
        value = -1.0
        """))
    return path


@pytest.fixture(scope="module")
def served_names(tmp_path_factory: pytest.TempPathFactory, basis_file: Path) -> set[str]:
    """Metric names on the /metrics page of a running ``gpsa run``: every sample's name, and
    for a family without samples its name as queried (counters ``_total``)."""
    from prometheus_client.parser import text_string_to_metric_families

    folder = tmp_path_factory.mktemp("served")
    port = _free_port()
    conf = _write_run(folder, basis_file, port)
    proc = subprocess.Popen([sys.executable, "-m", "gpsa.cli.main", "run", str(conf), "-q"],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        end = time.monotonic() + 40
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    text = resp.read().decode()
            except OSError:
                text = ""
            families = list(text_string_to_metric_families(text))
            samples = {s.name: s for f in families for s in f.samples}
            if "gpsa_alarms_total" in samples and any(
                    s.name == "gpsa_events_total" and s.labels.get("stage") == "adf-writer"
                    and s.value > 0 for f in families for s in f.samples):
                break
            assert time.monotonic() < end, f"no events and alarm at {url} within 40 s"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    names = set(samples)
    for f in families:
        names.add(f.name + "_total" if f.type == "counter" else f.name)
    if not any(n.startswith("gpsa_gpu_") for n in names):
        # No NVML here, so the GPU collector is not registered; its families are the ones
        # it yields on a machine with a GPU (read failures give empty families, same names).
        from gpsa.monitor.gpu import GpuCollector

        names |= {f.name for f in GpuCollector(None, "main").collect()}
    return names


def test_dashboard_uses_only_metric_names_that_exist(served_names: set[str]) -> None:
    histograms = {n[:-len("_bucket")] for n in served_names if n.endswith("_bucket")}
    assert "gpsa_block_seconds" in histograms
    for name in ("gpsa_events_total", "gpsa_block_seconds_bucket", "gpsa_queue_depth",
                 "gpsa_alarm_active", "gpsa_process_cpu_seconds_total",
                 "gpsa_gpu_utilization_ratio"):
        assert name in served_names, name
    known = served_names | histograms
    used: dict[str, list[str]] = {}
    for expr in expressions(load_dashboard()):
        names = metric_names(expr, histograms)
        assert names or expr.startswith("count by (job) (up"), f"no gpsa metric in {expr!r}"
        for name in names:
            used.setdefault(name, []).append(expr)
    unknown = {n: e for n, e in used.items() if n not in known}
    assert not unknown, f"metrics the dashboard reads that gpsa does not serve: {unknown}"
    # ... and the dashboard covers every per-stage metric gpsa serves.
    for name in ("gpsa_events_total", "gpsa_bytes_total", "gpsa_busy_seconds_total",
                 "gpsa_block_seconds", "gpsa_queue_depth", "gpsa_errors_total",
                 "gpsa_crystal_running", "gpsa_events_expected"):
        assert name in used, name


# --- provisioning ----------------------------------------------------------------------------

def test_grafana_provisioning_files_load() -> None:
    ds = yaml.safe_load(DATASOURCES.read_text())
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    assert re.fullmatch(r"http://[\w.-]+:9090", source["url"]) and source["isDefault"] is True
    prov = yaml.safe_load(PROVIDERS.read_text())
    assert prov["apiVersion"] == 1
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
    # The stack mounts the dashboard where the provider looks, the provisioning files where
    # Grafana reads them, and the data source's host is the stack's prometheus service.
    grafana = load_stack()["services"]["grafana"]
    targets = {c["source"]: c["target"] for c in grafana["configs"]}
    files = {k: (DEPLOY / "swarm" / v["file"]).resolve()
             for k, v in load_stack()["configs"].items()}
    mounted = {files[k]: t for k, t in targets.items()}
    assert Path(mounted[DASHBOARD]).parent == Path(provider["options"]["path"])
    assert Path(mounted[DATASOURCES]).parent == Path("/etc/grafana/provisioning/datasources")
    assert Path(mounted[PROVIDERS]).parent == Path("/etc/grafana/provisioning/dashboards")
    assert source["url"].split("//")[1].split(":")[0] in load_stack()["services"]


# --- Prometheus ------------------------------------------------------------------------------

def test_prometheus_config_loads_and_follows_the_port_rule() -> None:
    conf = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
    assert {"gpsa-run", "gpsa-batch", "gpsa-swarm-dns"} <= set(jobs)
    ports = [int(t.rsplit(":", 1)[1]) for t in jobs["gpsa-run"]["static_configs"][0]["targets"]]
    # metrics_port for a simple run and worker 0, metrics_port + i for parallel worker i
    assert ports == list(range(ports[0], ports[0] + len(ports)))
    files = jobs["gpsa-batch"]["file_sd_configs"][0]["files"]
    stack = load_stack()
    prom = stack["services"]["prometheus"]
    volumes = dict(v.split(":")[1::-1] for v in prom["volumes"])  # container path -> volume
    (pattern,) = files
    assert str(Path(pattern).parent) in volumes
    writer = stack["services"]["prometheus-targets"]
    (written,) = [v.split(":")[1] for v in writer["volumes"]
                  if v.split(":")[0] == volumes[str(Path(pattern).parent)]]
    assert f"out={written}/batch.json" in writer["command"][0]
    # The stack hands this very file to Prometheus at its --config.file.
    config = {c["source"]: c["target"] for c in prom["configs"]}
    (target,) = [t for s, t in config.items()
                 if (DEPLOY / "swarm" / stack["configs"][s]["file"]).resolve() == PROMETHEUS]
    assert f"--config.file={target}" in prom["command"]


def test_promtool_check_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian's `prometheus` package): the "
                    "configuration was only loaded as YAML")
    done = subprocess.run([promtool, "check", "config", str(PROMETHEUS)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


# --- the stack's optional services -----------------------------------------------------------

def test_stack_monitoring_services_are_optional() -> None:
    off = load_stack()
    for name in MONITORING_SERVICES:
        assert off["services"][name]["deploy"]["replicas"] == 0, name
    on = load_stack({"GPSA_MONITORING": "1", "GPSA_GRAFANA_PORT": "3300"})
    assert schema_errors(on) == []
    for name in MONITORING_SERVICES:
        svc = on["services"][name]
        assert svc["deploy"]["replicas"] == 1, name
        assert "gpsa" in svc["networks"], name
        assert "gpsa" not in svc["image"], name  # not a gpsa command line
    assert on["services"]["grafana"]["ports"][0]["published"] == 3300
    for spec in on["configs"].values():
        assert (DEPLOY / "swarm" / spec["file"]).resolve().is_file(), spec
