"""Snapshots in the Central Memory (a real redis-server): the run's pub/sub channel and its
history stream with retention, alarms fired by a paced producer, and ``gpsa monitor`` reading a
live run's snapshots in plain mode."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gpsa.central.connection import connect
from gpsa.central.server import LocalRedis
from gpsa.cli.main import main
from gpsa.monitor.publish import RedisPublisher, channel, history_key, read_history

from .conftest import write_run

ALARM = """
[[alarm]]
name = "slow"
metric = "rate"
condition = "below"
value = 100000.0
for_seconds = 0.5
"""


def collect(client: Any, run: str, got: list[dict[str, Any]], ready: threading.Event,
            done: threading.Event) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel(run))
    ready.set()
    while not done.is_set():
        msg = pubsub.get_message(timeout=0.1)
        if msg is not None and msg["type"] == "message":
            got.append(json.loads(msg["data"]))
    pubsub.close()


def test_snapshots_pubsub_history_and_alarm(tmp_path: Path, basis_file: Path,
                                            redis_server: LocalRedis,
                                            capsys: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    conf = write_run(tmp_path, basis_file, alarms=ALARM, events=120, rate_hz=60.0,
                     run=f'redis = "{redis_server.url}"\nmonitor_interval = 0.2\n'
                     'run_name = "mon-t1"')
    client = connect(redis_server.url)
    got: list[dict[str, Any]] = []
    ready, done = threading.Event(), threading.Event()
    listener = threading.Thread(target=collect, args=(client, "mon-t1", got, ready, done))
    listener.start()
    ready.wait(5)
    with caplog.at_level(logging.WARNING, logger="gpsa.monitor.alarms"):
        assert main(["run", str(conf), "-q", "--json"]) == 0
    done.set()
    listener.join(5)
    summary = json.loads(capsys.readouterr().out)
    # live values: several snapshots on the channel while the run went on
    assert len(got) >= 5
    assert {s["worker"] for s in got} == {"main"} and got[0]["run"] == "mon-t1"
    assert any(s["crystals"].get("00A", {}).get("running") for s in got)
    # history: the same snapshots in the stream, the last one with the final counts
    history = read_history(client, "mon-t1", count=1000)
    assert len(history) >= len(got) - 1
    stages = history[-1]["crystals"]["00A"]["stages"]
    assert list(stages) == ["simulator", "psa", "adf-writer"]
    assert all(st["events"] == 120 and st["errors"] == 0 for st in stages.values())
    assert any(s["crystals"]["00A"]["stages"]["simulator"]["rate"] > 10 for s in history
               if "00A" in s["crystals"])
    # the alarm: logged, counted (gpsa_alarms_total in the snapshots), in the summary JSON
    assert any("alarm slow: crystal 00A stage simulator: rate" in r.getMessage()
               for r in caplog.records)
    fired = [a for a in history[-1]["alarms"] if a["alarm"] == "slow"]
    assert fired and fired[0]["fired"] >= 1 and fired[0]["crystal"] == "00A"
    [entry] = summary["alarms"]
    assert entry["alarm"] == "slow" and entry["crystal"] == "00A" and entry["value"] < 100000
    assert entry["cleared"] is not None  # the crystal ended: the condition no longer holds
    client.close()


def test_history_is_trimmed(redis_server: LocalRedis) -> None:
    client = connect(redis_server.url)
    pub = RedisPublisher(client, "mon-t2", maxlen=50)
    for i in range(1000):
        assert pub.send({"v": 1, "worker": "main", "time": float(i), "crystals": {}})
    n = client.xlen(history_key("mon-t2"))
    assert 50 <= n < 300, n  # MAXLEN ~: trimmed by whole stream nodes (100 entries)
    assert client.ttl(history_key("mon-t2")) > 0
    assert read_history(client, "mon-t2", count=1)[0]["time"] == 999.0
    client.close()


def test_monitor_plain_shows_a_live_run(tmp_path: Path, basis_file: Path,
                                        redis_server: LocalRedis,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, basis_file, crystals=("00A", "00B"), events=400, rate_hz=100.0,
                     run=f'redis = "{redis_server.url}"\nmonitor_interval = 0.25\n'
                     'run_name = "mon-t3"')
    proc = subprocess.Popen([sys.executable, "-m", "gpsa.cli.main", "run", str(conf), "-q",
                             "--mode", "parallel", "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        client = connect(redis_server.url)
        end = time.monotonic() + 60
        while time.monotonic() < end:  # until both crystals publish events
            hist = read_history(client, "mon-t3", count=20)
            live = {c for s in hist for c, v in s["crystals"].items()
                    if v["stages"].get("adf-writer", {}).get("events", 0) > 0 and v["running"]}
            if live == {"00A", "00B"}:
                break
            time.sleep(0.2)
        capsys.readouterr()
        assert main(["monitor", "--redis", redis_server.url, "--interval", "0.5",
                     "--seconds", "1.5"]) == 0  # the latest run: mon-t3
        out = capsys.readouterr().out
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    screens = out.split("== run mon-t3")
    assert len(screens) >= 3, out
    last = screens[-1]
    rows = [line.split("\t") for line in last.splitlines() if line[:4] in ("00A\t", "00B\t")]
    assert {(r[0], r[1]) for r in rows} == {(c, s) for c in ("00A", "00B")
                                            for s in ("simulator", "psa", "adf-writer")}
    assert {r[2] for r in rows} == {"w0", "w1"}  # one parallel worker per crystal
    assert all(float(r[5].replace(",", "")) > 0 for r in rows if r[1] == "simulator"), last
    workers = last.split("# Workers")[1].splitlines()[2:]
    assert {w.split("\t")[0] for w in workers if w} == {"w0", "w1"}
