"""Batch mode with real ``gpsa batch work`` processes and a real redis-server: the must-show
faults (worker SIGKILL mid-workload, SIGSTOP past the lease then SIGCONT, redis-server SIGKILL
and restart on its AOF, a poison workload, SIGTERM with work in hand) and a plain drain. Each
asserts 0 lost and 0 duplicate commits (one accepted commit per workload, every output whole,
events 0..n-1 once) and prints lost / duplicated / recovery time (``pytest -s`` shows them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpsa.adf import read_all
from gpsa.central import configstore
from gpsa.central.connection import connect
from gpsa.central.workqueue import WorkQueue, stream_id
from gpsa.cli.main import main
from gpsa.plugins.manager import reset_plugin_manager

from .conftest import RedisHolder

GPSA = [sys.executable, "-m", "gpsa.cli.main"]
CRYSTALS = ("00A", "01A", "02A")


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def sim_run(folder: Path, basis: Path, crystals: tuple[str, ...], *, events: int = 60,
            rate_hz: float = 20.0) -> Path:
    """simulator (paced at ``rate_hz``: 60 events take 3 s) -> preprocess -> psa -> adf-writer."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.toml"
    path.write_text(textwrap.dedent(f"""\
        [run]
        crystals = {list(crystals)!r}
        output = "out"

        [[stage]]
        actor = "simulator"
        basis = "{basis}"
        events = {events}
        block_size = 10
        rate_hz = {rate_hz}

        [[stage]]
        actor = "preprocess"
        align_t0 = 20

        [[stage]]
        actor = "psa"
        basis = "{basis}"

        [[stage]]
        actor = "adf-writer"
        """))
    return path


class Batch:
    """A batch run in the test's Redis and the worker processes started for it."""

    def __init__(self, tmp: Path, redis: RedisHolder, conf: Path, *init_args: str) -> None:
        self.tmp, self.redis, self.out = tmp, redis, conf.parent / "out"
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        assert main(["batch", "init", str(conf), "--redis", redis.url, "--name", "t",
                     *init_args]) == 0
        self.client = connect(redis.url)
        self.queue = WorkQueue(self.client, "t")

    def start(self, n: int = 1) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for _ in range(n):
            log = self.tmp / f"worker{len(self.procs)}.log"
            with log.open("wb") as fh:
                proc = subprocess.Popen([*GPSA, "batch", "work", "--redis", self.redis.url,
                                         "--run", "t"], stdout=fh, stderr=subprocess.STDOUT,
                                        env=env)
            self.procs.append((proc, log))

    def logs(self) -> str:
        return "\n".join(log.read_text() for _, log in self.procs)

    def wait(self, timeout: float = 90) -> list[int]:
        deadline = time.monotonic() + timeout
        for proc, _ in self.procs:
            proc.wait(max(1.0, deadline - time.monotonic()))
        return [p.returncode for p, _ in self.procs]

    def holder(self, min_events: int = 1) -> tuple[int, str, float]:
        """(pid, worker id, time) of a worker holding a workload with ``min_events`` done."""
        def find() -> tuple[int, str, float] | None:
            for w, f in self.queue.snapshot().workers.items():
                if f.get("workload") and f["workload"] != "_final" \
                        and int(f.get("events") or 0) >= min_events:
                    return int(f["pid"]), w, time.time()
            return None
        return until(find, "a worker holding a workload")

    def events(self, kind: str | None = None) -> list[dict[str, str]]:
        evs = self.queue.snapshot(events=True).events
        return [e for e in evs if kind is None or e["ev"] == kind]

    def close(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait()
        self.client.close()


@pytest.fixture
def batches() -> Iterator[list[Batch]]:
    made: list[Batch] = []
    yield made
    for b in made:
        b.close()


def until(probe: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)


def event_time(e: dict[str, str]) -> float:
    return stream_id(e["id"])[0] / 1000


def check_nothing_lost(b: Batch, crystals: tuple[str, ...], events: int, *, name: str,
                       dead: tuple[str, ...] = (), recovery: float | None = None,
                       stalled: bool = False) -> None:
    """Every crystal done exactly once with all its events (or dead-lettered as expected)."""
    snap = b.queue.snapshot(events=True)
    commits = Counter(e["workload"] for e in snap.events if e["ev"] == "commit")
    duplicated = sum(n - 1 for n in commits.values() if n > 1)
    lost = [c for c in crystals if c not in snap.done and c not in dead]
    rec = f"{recovery:.2f} s" if recovery is not None else "-"
    print(f"\n[batch fault] {name}: lost {len(lost)}, duplicated {duplicated}, "
          f"recovery {rec}, refused commits {sum(e['ev'] == 'refused' for e in snap.events)}")
    assert not lost and duplicated == 0, b.logs()
    assert sorted(d["workload"] for d in snap.dead) == sorted(dead)
    assert commits["_final"] == 1 and snap.meta["state"] == "complete"
    for c in crystals:
        folder = b.out / c
        if c in dead:
            continue
        numbers = read_all(folder / "psa.adf").psa.events.event_numbers
        assert np.array_equal(numbers, np.arange(events)), c
        assert not list(folder.glob("*.partial"))
        prov = json.loads((folder / "gpsa-run.json").read_text())
        assert prov["status"] == "complete"
        assert prov["batch"]["worker"] == snap.done[c]["worker"]
        assert prov["config"]["output_dir"] == str(folder)
        cv = prov["batch"]["config_version"]  # the stored version it ran, recorded
        stored, config = configstore.get(b.queue.client, cv["run"], cv["version"])
        assert cv["hash"] == stored.hash and c in config
    record = json.loads((b.out / "run-complete.json").read_text())
    assert record["flushed"] == bool(dead) and record["missing"] == sorted(dead)
    assert [d["crystal"] for d in record["done"]] == sorted(set(crystals) - set(dead))
    # superseded attempts of exited workers deleted; the others kept and listed
    staged = sorted(str(p.relative_to(b.out)) for p in (b.out / ".gpsa-batch").glob("*.*"))
    assert set(record["kept_attempts"]) >= set(staged)
    if not stalled:
        assert {s.split("/")[1].split(".")[0] for s in staged} <= set(dead)


def test_workers_drain_the_queue_and_exit_0(tmp_path: Path, basis_file: Path,
                                            batch_redis: RedisHolder, batches: list[Batch],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    conf = sim_run(tmp_path, basis_file, CRYSTALS, events=40, rate_hz=40)
    b = Batch(tmp_path, batch_redis, conf, "--then", 'echo "$GPSA_BATCH_FLUSHED" > then.txt')
    batches.append(b)
    capsys.readouterr()
    b.start(2)
    assert b.wait() == [0, 0], b.logs()
    exited = time.time()
    last = max(event_time(e) for e in b.events())
    check_nothing_lost(b, CRYSTALS, 40, name="drain (recovery: last event to exit)",
                       recovery=exited - last)
    with capsys.disabled():
        print(capsys.readouterr().out, end="")
    assert (b.out / "then.txt").read_text().strip() == "0"
    assert "run finished" in b.logs()
    capsys.readouterr()
    assert main(["batch", "status", "--redis", batch_redis.url, "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["state"] == "complete" and st["counts"] == {"done": 3} and not st["workers"]
    assert main(["batch", "report", "--redis", batch_redis.url, "--out",
                 str(tmp_path / "report.txt")]) == 0
    text = (tmp_path / "report.txt").read_text()
    assert "crystals: 3 done" in text and "refused commits 0" in text


def test_sigkill_of_a_worker_mid_workload(tmp_path: Path, basis_file: Path,
                                          batch_redis: RedisHolder,
                                          batches: list[Batch]) -> None:
    conf = sim_run(tmp_path, basis_file, ("00A",))
    b = Batch(tmp_path, batch_redis, conf, "--lease", "2")
    batches.append(b)
    b.start(2)
    pid, victim, t_kill = b.holder(min_events=10)
    os.kill(pid, signal.SIGKILL)
    reclaim = until(lambda: b.events("reclaimed"), "reclaim")[0]
    assert reclaim["previous"] == victim and reclaim["deliveries"] == "2"
    codes = b.wait()
    assert sorted(codes) == [-signal.SIGKILL, 0], b.logs()
    check_nothing_lost(b, ("00A",), 60, name="worker SIGKILL",
                       recovery=event_time(reclaim) - t_kill)
    assert b.queue.snapshot().done["00A"]["worker"] != victim
    assert event_time(reclaim) - t_kill >= 1.5  # not before the lease (2 s) ran out


def test_sigstop_past_the_lease_then_sigcont_commit_refused(tmp_path: Path, basis_file: Path,
                                                            batch_redis: RedisHolder,
                                                            batches: list[Batch]) -> None:
    conf = sim_run(tmp_path, basis_file, ("00A",))
    b = Batch(tmp_path, batch_redis, conf, "--lease", "2")
    batches.append(b)
    b.start(2)
    pid, zombie, t_stop = b.holder(min_events=10)
    os.kill(pid, signal.SIGSTOP)
    reclaim = until(lambda: b.events("reclaimed"), "reclaim")[0]
    until(lambda: "00A" in b.queue.snapshot().done, "commit by the other worker")
    os.kill(pid, signal.SIGCONT)  # the zombie wakes up, finishes and tries to commit
    assert b.wait() == [0, 0], b.logs()
    refused = [e for e in b.events("refused") if e["worker"] == zombie]
    assert len(refused) == 1 and "not the owner" in refused[0]["detail"]
    assert "commit refused by the fence" in b.logs()
    check_nothing_lost(b, ("00A",), 60, name="worker SIGSTOP/SIGCONT",
                       recovery=event_time(reclaim) - t_stop, stalled=True)
    assert not list((b.out / ".gpsa-batch").glob(f"00A.{zombie}.*"))  # its outputs discarded


def test_redis_sigkill_and_restart_on_the_same_aof(tmp_path: Path, basis_file: Path,
                                                   batch_redis: RedisHolder,
                                                   batches: list[Batch]) -> None:
    crystals = ("00A", "01A")
    conf = sim_run(tmp_path, basis_file, crystals, events=80)
    b = Batch(tmp_path, batch_redis, conf, "--lease", "3")
    batches.append(b)
    b.start(2)
    until(lambda: sum(bool(f.get("workload")) and int(f.get("events") or 0) > 0
                      for f in b.queue.snapshot().workers.values()) == 2, "two busy workers")
    batch_redis.kill()
    time.sleep(1.0)
    batch_redis.restart()
    t_up = time.time()

    def refreshed() -> bool:
        workers = b.queue.snapshot().workers
        return len(workers) == 2 and all(w["heartbeat_age"] < time.time() - t_up
                                         for w in workers.values())
    until(refreshed, "heartbeats after the restart", timeout=30)
    recovery = time.time() - t_up
    assert b.wait() == [0, 0], b.logs()
    check_nothing_lost(b, crystals, 80, name="redis-server SIGKILL + restart",
                       recovery=recovery)
    assert not b.events("reclaimed")  # the outage was shorter than the lease


def test_poison_workload_is_dead_lettered_the_others_done(tmp_path: Path, basis_file: Path,
                                                          batch_redis: RedisHolder,
                                                          batches: list[Batch]) -> None:
    data = tmp_path / "data"
    assert main(["simulate", "--basis", str(basis_file), "--crystals", ",".join(CRYSTALS),
                 "--events", "300", "--out", str(data), "-q"]) == 0
    poison = data / "01A" / "events.adf"
    raw = bytearray(poison.read_bytes())
    length = int(np.frombuffer(bytes(raw[:4]), "<u4")[0])
    raw[length * 150:length * 150 + 64] = b"\xff" * 64  # a corrupt frame mid-file
    poison.write_bytes(bytes(raw))
    conf = tmp_path / "run.toml"
    conf.write_text(textwrap.dedent(f"""\
        [run]
        crystals = {list(CRYSTALS)!r}
        output = "out"

        [[stage]]
        actor = "adf-reader"
        path = "{data}/{{crystal}}/events.adf"
        frames_per_block = 50

        [[stage]]
        actor = "psa"
        basis = "{basis_file}"

        [[stage]]
        actor = "adf-writer"
        """))
    b = Batch(tmp_path, batch_redis, conf, "--then",
              'echo "$GPSA_BATCH_FLUSHED" > then.txt')
    batches.append(b)
    b.start(2)
    assert b.wait() == [0, 0], b.logs()
    check_nothing_lost(b, CRYSTALS, 300, name="poison workload", dead=("01A",))
    (dead,) = b.queue.snapshot().dead
    assert dead["reason"] == "failed" and dead["deliveries"] == "4"  # max_reassign 3, + 1
    assert str(poison) in dead["error"] and f"byte offset {length * 150}" in dead["error"]
    assert len(b.events("failed")) == 4
    assert (b.out / "then.txt").read_text().strip() == "1"
    record = json.loads((b.out / "run-complete.json").read_text())
    assert record["dead"][0]["crystal"] == "01A" and record["complete"] is False
    assert len(record["kept_attempts"]) == 4  # its four failed attempts, for inspection
    assert main(["batch", "report", "--redis", batch_redis.url, "--json"]) == 0


def test_sigterm_releases_the_workload_at_once(tmp_path: Path, basis_file: Path,
                                               batch_redis: RedisHolder,
                                               batches: list[Batch]) -> None:
    conf = sim_run(tmp_path, basis_file, ("00A",))
    b = Batch(tmp_path, batch_redis, conf)  # the default 10 s lease: only a release is fast
    batches.append(b)
    b.start(2)
    pid, leaver, t_term = b.holder(min_events=10)
    os.kill(pid, signal.SIGTERM)
    taken = until(lambda: b.events("taken"), "take-over", timeout=10)[0]
    latency = event_time(taken) - t_term
    (proc,) = [p for p, _ in b.procs if p.pid == pid]
    proc.wait(10)
    t_exit = time.time() - t_term
    assert proc.returncode == 143 and t_exit < 5.5, b.logs()
    assert b.wait() == [143, 0] or b.wait() == [0, 143]
    released = b.events("released")
    assert [e["worker"] for e in released] == [leaver] and taken["previous"] == "released"
    check_nothing_lost(b, ("00A",), 60, name="SIGTERM with work in hand", recovery=latency)
    assert latency < 2.0, f"taken {latency:.2f} s after SIGTERM"
    assert b.queue.snapshot().done["00A"]["deliveries"] == 1  # a release is not a failure


def test_unreachable_redis_or_missing_run_is_one_line_exit_2(
        tmp_path: Path, basis_file: Path, batch_redis: RedisHolder,
        capsys: pytest.CaptureFixture[str]) -> None:
    conf = sim_run(tmp_path, basis_file, ("00A",))
    url = f"unix://{tmp_path}/nobody.sock"
    for argv in (["init", str(conf)], ["work"], ["status"], ["report"]):
        capsys.readouterr()
        assert main(["batch", *argv, "--redis", url]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and url in err[0] and "unreachable" in err[0], err
    assert not (tmp_path / "out").exists()  # nothing read, nothing written
    assert main(["batch", "work", "--redis", batch_redis.url]) == 2
    assert "no batch run" in capsys.readouterr().err
