"""The /metrics endpoint of a real ``gpsa run`` (another process, kept alive by a paced
simulator), scraped over loopback: names, labels, increasing counts; then ``gpsa monitor --url``
reading the same endpoint."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gpsa.cli.main import main
from gpsa.monitor.snapshot import parse_metrics_text

from .conftest import write_run

STAGES = {"simulator", "psa", "adf-writer"}
PER_STAGE = ("gpsa_events_total", "gpsa_blocks_total", "gpsa_bytes_total",
             "gpsa_busy_seconds_total", "gpsa_block_seconds_bucket", "gpsa_block_seconds_sum",
             "gpsa_block_seconds_count", "gpsa_queue_depth", "gpsa_errors_total")


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return parse_metrics_text(resp.read().decode())


def value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(v for n, lab, v in samples
               if n == name and all(lab.get(k) == x for k, x in labels.items()))


@pytest.fixture
def live_run(tmp_path: Path, basis_file: Path, free_port: int) -> subprocess.Popen[str]:
    conf = write_run(tmp_path, basis_file, run=f"metrics_port = {free_port}", events=600,
                     rate_hz=100.0)
    proc = subprocess.Popen([sys.executable, "-m", "gpsa.cli.main", "run", str(conf), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc
    proc.kill()
    proc.communicate(timeout=30)


def wait_for_events(url: str, limit: float = 40.0) -> list[tuple[str, dict[str, str], float]]:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            samples = scrape(url)
        except OSError:
            samples = []
        if value(samples, "gpsa_events_total", stage="adf-writer") > 0:
            return samples
        time.sleep(0.2)
    raise AssertionError(f"no events seen at {url} within {limit} s")


def test_metrics_of_a_running_run(live_run: subprocess.Popen[str], free_port: int,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port}/metrics"
    first = wait_for_events(url)
    names = {n for n, _, _ in first}
    for name in PER_STAGE:
        assert name in names, name
        stages = {lab["stage"] for n, lab, _ in first if n == name}
        assert stages == STAGES, (name, stages)
    for name in ("gpsa_process_cpu_seconds_total", "gpsa_process_resident_memory_bytes",
                 "gpsa_crystal_running", "gpsa_events_expected"):
        assert name in names, name
    for n, lab, _ in first:  # crystal, stage and worker only: no per-block label
        if n.startswith("gpsa_") and not n.startswith("gpsa_process_"):
            assert set(lab) - {"le"} == {"crystal", "stage", "worker"}, (n, lab)
            assert lab["crystal"] == "00A" and lab["worker"] == "main"
    assert value(first, "gpsa_crystal_running", crystal="00A") == 1
    assert value(first, "gpsa_events_expected", crystal="00A") == 600
    assert value(first, "gpsa_bytes_total", stage="simulator") > 0
    assert value(first, "gpsa_block_seconds_count", stage="psa") >= 1
    time.sleep(1.0)
    second = scrape(url)
    for name in ("gpsa_events_total", "gpsa_blocks_total", "gpsa_busy_seconds_total"):
        assert value(second, name, stage="simulator") > value(first, name, stage="simulator")
    assert value(second, "gpsa_process_cpu_seconds_total") > 0
    # gpsa monitor on the same endpoint, plain lines (stdout is not a terminal here)
    capsys.readouterr()
    assert main(["monitor", "--url", url, "--interval", "0.5", "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    assert "# Crystals x stages" in out and "# Workers" in out
    rows = [line.split("\t") for line in out.splitlines() if line.startswith("00A\t")]
    assert {r[1] for r in rows} == STAGES
    assert any(float(r[5].replace(",", "")) > 0 for r in rows), out
