"""The ``heartbeat_age`` alarm of a batch worker (a real redis-server, real ``gpsa batch work``
processes): ``gpsa_heartbeat_age_seconds`` in its snapshots; while the heartbeats are healthy
the alarm does not fire, when the redis-server is stopped (SIGSTOP) past the alarm's value it
fires inside the worker (logged, counted, in the commit record) while one with a higher value
does not; and ``gpsa monitor`` marks a worker whose heartbeat is late (SIGSTOP) ``STALE``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gpsa.central.connection import connect
from gpsa.central.server import LocalRedis
from gpsa.central.workqueue import WorkQueue
from gpsa.cli.main import main
from gpsa.monitor.publish import read_history
from gpsa.monitor.sources import stale_after

from .conftest import write_run

ALARMS = """
[[alarm]]
name = "hb-late"
metric = "heartbeat_age"
condition = "above"
value = 3.0
for_seconds = 0.3

[[alarm]]
name = "hb-healthy"
metric = "heartbeat_age"
condition = "above"
value = 9.0
"""


def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
            p.kill()
            p.wait()


def start_worker(tmp: Path, url: str, run: str, procs: list[subprocess.Popen[bytes]]) -> Path:
    log = tmp / f"worker{len(procs)}.log"
    with log.open("wb") as fh:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gpsa.cli.main", "batch", "work", "--redis", url, "--run",
             run], stdout=fh, stderr=subprocess.STDOUT, env={**os.environ,
                                                             "PYTHONUNBUFFERED": "1"}))
    return log


def test_heartbeat_age_alarm_fires_when_the_central_memory_stalls(
        tmp_path: Path, basis_file: Path, redis_server: LocalRedis,
        workers: list[subprocess.Popen[bytes]]) -> None:
    # the default 10 s lease: a heartbeat every 2 s, so a healthy age stays below ~2.3 s
    conf = write_run(tmp_path, basis_file, alarms=ALARMS, events=180, block_size=10,
                     rate_hz=15.0, run="monitor_interval = 0.2")
    assert main(["batch", "init", str(conf), "--redis", redis_server.url, "--name", "hb"]) == 0
    log = start_worker(tmp_path, redis_server.url, "hb", workers)
    client = connect(redis_server.url)
    queue = WorkQueue(client, "hb")
    assert redis_server.proc is not None
    try:
        until(lambda: any(int(f.get("events") or 0) > 0
                          for f in queue.snapshot().workers.values()), "a busy worker")
        time.sleep(2.5)  # more than one heartbeat interval, healthy
        before = read_history(client, "hb", count=500)
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(4.5)  # no heartbeat reaches it: the age passes 3 s, stays below 9 s
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        assert workers[0].wait(60) == 0, log.read_text()
        done = queue.snapshot().done
        history = read_history(client, "hb", count=500)
    finally:
        client.close()
    text = log.read_text()
    # healthy heartbeats: the gauge exported, below the threshold, nothing fired
    ages = [s["process"]["heartbeat_age"] for s in before]
    assert len(ages) >= 10 and 0 < max(ages) < 3.0, ages
    assert not [a for s in before for a in s["alarms"]], before[-1]["alarms"]
    # stalled: logged by the worker, counted (gpsa_alarms_total in its snapshots)
    assert "alarm hb-late: crystal 00A: heartbeat_age = " in text, text
    assert "is above 3 for " in text
    assert "alarm hb-healthy" not in text
    fired = {a["alarm"]: a["fired"] for s in history for a in s["alarms"]}
    assert fired.get("hb-late", 0) >= 1 and "hb-healthy" not in fired, fired
    assert max(s["process"]["heartbeat_age"] for s in history) > 3.0
    # in the crystal's commit record, as the other alarms are; cleared by the next beats
    entries = done["00A"]["alarms"]
    assert {e["alarm"] for e in entries} == {"hb-late"}, entries
    e = entries[0]
    assert e["metric"] == "heartbeat_age" and e["crystal"] == "00A" and e["stage"] == ""
    assert 3.0 < e["value"] < 9.0 and e["threshold"] == 3.0
    assert e["worker"] == done["00A"]["worker"] and e["cleared"] is not None


def test_monitor_marks_a_worker_with_a_late_heartbeat(
        tmp_path: Path, basis_file: Path, redis_server: LocalRedis,
        workers: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    # a 2 s lease: a heartbeat every 0.4 s, STALE past 1 s, the registration gone after 2 s
    conf = write_run(tmp_path, basis_file, events=80, block_size=10, rate_hz=20.0,
                     run="monitor_interval = 0.2")
    assert main(["batch", "init", str(conf), "--redis", redis_server.url, "--name", "hbm",
                 "--lease", "2"]) == 0
    assert stale_after(2.0) == 1.0
    log = start_worker(tmp_path, redis_server.url, "hbm", workers)
    client = connect(redis_server.url)
    queue = WorkQueue(client, "hbm")

    def screen() -> str:
        capsys.readouterr()
        assert main(["monitor", "hbm", "--redis", redis_server.url, "--once"]) == 0
        return capsys.readouterr().out

    def worker_row(out: str) -> list[str]:
        rows = [r.split("\t") for r in out.split("# Workers")[1].splitlines()[2:] if r]
        assert len(rows) == 1, out
        return rows[0]

    try:
        until(lambda: any(int(f.get("events") or 0) > 0
                          for f in queue.snapshot().workers.values()), "a busy worker")
        healthy = worker_row(screen())
        assert healthy[4] == "working" and float(healthy[5]) < 1.0, healthy
        os.kill(workers[0].pid, signal.SIGSTOP)
        try:
            time.sleep(1.4)
            late = worker_row(screen())
        finally:
            os.kill(workers[0].pid, signal.SIGCONT)
        assert late[4] == "working STALE" and float(late[5]) > 1.0, late
        assert workers[0].wait(60) == 0, log.read_text()
    finally:
        client.close()
