"""A real Prometheus server (Debian's ``prometheus`` package) scraping a running ``gpsa run`` on
loopback every second; the test asks Prometheus's HTTP API, not gpsa, for the documented
metric names with their labels, for counts that increase between two instant queries and
along a range query, and evaluates every PromQL expression of the Grafana dashboard
(``deploy/grafana/dashboards/gpsa.json``) against the data it scraped."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import write_run

PROMETHEUS = shutil.which("prometheus")
DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "gpsa.json"
STAGES = {"simulator", "psa", "adf-writer"}
#: documented in docs/monitoring.md, served by every monitored run
DOCUMENTED = ("gpsa_events_total", "gpsa_blocks_total", "gpsa_bytes_total",
              "gpsa_busy_seconds_total", "gpsa_block_seconds_bucket", "gpsa_block_seconds_sum",
              "gpsa_block_seconds_count", "gpsa_queue_depth", "gpsa_errors_total",
              "gpsa_crystal_running", "gpsa_events_expected", "gpsa_alarms_total",
              "gpsa_alarm_active", "gpsa_process_cpu_seconds_total",
              "gpsa_process_resident_memory_bytes")
ALARM = '\n[[alarm]]\nname = "always"\nmetric = "errors"\ncondition = "above"\nvalue = -1.0\n'

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="no `prometheus` binary (Debian's prometheus package; .ci/run "
    "installs it): the real-server test cannot run")


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(base: str, path: str, **params: Any) -> Any:
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.loads(resp.read().decode())
    assert body["status"] == "success", body
    return body["data"]


def query(base: str, expr: str, **params: Any) -> list[dict[str, Any]]:
    data = api(base, "query", query=expr, **params)
    assert data["resultType"] == "vector", data
    return list(data["result"])


@pytest.fixture
def gpsa_run(tmp_path: Path, basis_file: Path, free_port: int) -> Iterator[int]:
    """A paced ``gpsa run`` (2000 events at 100 events/s: about 20 s) serving /metrics on
    loopback; killed after the test."""
    conf = write_run(tmp_path / "run", basis_file, events=2000, rate_hz=100.0, alarms=ALARM,
                     run=f"metrics_port = {free_port}\nmonitor_interval = 0.2")
    proc = subprocess.Popen([sys.executable, "-m", "gpsa.cli.main", "run", str(conf), "-q"],
                            cwd=tmp_path / "run", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield free_port
    finally:
        proc.kill()
        proc.communicate(timeout=30)


@pytest.fixture
def prometheus(tmp_path: Path, gpsa_run: int) -> Iterator[str]:
    """Prometheus with its own configuration, TSDB and port in ``tmp_path``, scraping the run
    every second; stopped (SIGTERM, then SIGKILL) after the test."""
    assert PROMETHEUS is not None
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: gpsa\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{gpsa_run}']\n")
    port = _port()
    log = (folder / "prometheus.log").open("w")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}",
                             f"--storage.tsdb.path={folder / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (folder / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < end, "Prometheus not ready within 20 s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def wait_for_scrapes(base: str, n: int, limit: float = 30.0) -> None:
    """Until Prometheus holds ``n`` samples of the writer's event count with events in them."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        got = query(base, 'count_over_time(gpsa_events_total{stage="adf-writer"}[1m])')
        moved = query(base, 'max_over_time(gpsa_events_total{stage="adf-writer"}[1m])')
        if got and float(got[0]["value"][1]) >= n and moved and float(moved[0]["value"][1]) > 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus did not scrape {n} samples with events in {limit} s")


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL) of the dashboard with its variables at their defaults: All for the
    query variables, the writer for ``$output_stage``."""
    dash = json.loads(DASHBOARD.read_text())
    values = {"crystal": ".*", "worker": ".*", "instance": ".*"}
    for var in dash["templating"]["list"]:
        if var["type"] == "custom":
            values[var["name"]] = var["current"]["value"]
    out = []
    for row in dash["panels"]:
        for p in [*row.get("panels", []), row]:
            for t in p.get("targets", []):
                expr = t["expr"]
                for name, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
                    expr = expr.replace(f"${name}", value)
                assert "$" not in expr, expr
                out.append((p["title"], expr))
    return out


def test_prometheus_scrapes_a_running_gpsa_run(prometheus: str) -> None:
    base = prometheus
    wait_for_scrapes(base, 3)
    # The target is up, as Prometheus sees it.
    (up,) = query(base, 'up{job="gpsa"}')
    assert up["value"][1] == "1"
    # The documented names, as Prometheus stored them, with gpsa's labels.
    names = {r["metric"]["__name__"]
             for r in query(base, 'group by (__name__) ({__name__=~"gpsa_.+"})')}
    missing = [n for n in DOCUMENTED if n not in names]
    assert not missing, (missing, sorted(names))
    events = query(base, "gpsa_events_total")
    assert {r["metric"]["stage"] for r in events} == STAGES
    for r in events:
        assert r["metric"]["crystal"] == "00A" and r["metric"]["worker"] == "main"
        assert r["metric"]["job"] == "gpsa"
    assert STAGES <= set(api(base, "label/stage/values"))
    (alarm,) = query(base, "gpsa_alarms_total")
    assert alarm["metric"]["alarm"] == "always" and float(alarm["value"][1]) >= 1
    # Increasing counts: two instant queries 2 s apart, and along a range query.
    first = {r["metric"]["stage"]: float(r["value"][1]) for r in events}
    time.sleep(2.5)
    later = {r["metric"]["stage"]: float(r["value"][1])
             for r in query(base, "gpsa_events_total")}
    for stage in STAGES:
        assert later[stage] > first[stage], (stage, first, later)
    for name in ("gpsa_blocks_total", "gpsa_block_seconds_count", "gpsa_busy_seconds_total"):
        before = query(base, f'{name}{{stage="psa"}}', time=time.time() - 2.0)
        now = query(base, f'{name}{{stage="psa"}}')
        assert float(now[0]["value"][1]) > float(before[0]["value"][1]), name
    now = time.time()
    data = api(base, "query_range", query='gpsa_events_total{stage="simulator"}',
               start=now - 10, end=now, step=1)
    (series,) = data["result"]
    counts = [float(v) for _, v in series["values"]]
    assert len(counts) >= 4
    assert all(b >= a for a, b in zip(counts, counts[1:], strict=False)), counts
    assert counts[-1] > counts[0], counts
    rate = query(base, 'rate(gpsa_events_total{stage="simulator"}[5s])')
    assert 20.0 < float(rate[0]["value"][1]) < 400.0, rate  # paced at 100 events/s
    # The Grafana dashboard's expressions: all valid PromQL, and the panels on gpsa's own
    # series (everything but the GPUs, which this machine may lack, and the targets down,
    # which are none) show data.
    empty_ok = ("GPU", "Targets down")
    for title, expr in dashboard_exprs():
        result = query(base, expr)
        if not any(word in title for word in empty_ok):
            assert result, f"dashboard panel {title!r}: no data for {expr!r}"
    (psa,) = query(base, 'histogram_quantile(0.5, sum by (le, crystal) '
                         '(rate(gpsa_block_seconds_bucket{stage="psa"}[1m])))')
    assert 0.0 < float(psa["value"][1]) < 30.0
