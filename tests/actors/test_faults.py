"""Faults with real processes and real files: damaged input, SIGTERM within the stop bound, a
second Ctrl-C, ``kill -9`` of a parallel run's parent or of a worker, and a write that fails
(file size limit, as on a full disk). In every case what was processed before the fault is
written, outputs that are not complete keep their ``.partial`` name, and no process is left."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from gpsa.adf import read_all

from .conftest import write_replay, write_run

GPSA = [sys.executable, "-m", "gpsa.cli.main"]


def gpsa(*args: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([*GPSA, *args], capture_output=True, text=True, timeout=300, **kw)


def start(*args: str, **kw) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*GPSA, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until ``path`` exists and holds data (the first block was written)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.05)


def replay_run(folder: Path, basis: Path, data: Path, *, resync: bool = False) -> Path:
    """adf-reader -> preprocess -> psa -> adf-writer on ``data``."""
    return write_replay(folder, basis, data, name="resync.toml" if resync else "run.toml",
                        reader=f"frames_per_block = 100\nresync = {str(resync).lower()}")


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory, basis_file: Path) -> Path:
    out = tmp_path_factory.mktemp("sim")
    res = gpsa("simulate", "--basis", str(basis_file), "--events", "1000", "--out", str(out),
               "-q")
    assert res.returncode == 0, res.stderr
    return out / "00A" / "events.adf"


def frame_length(path: Path) -> int:
    return int(np.frombuffer(path.read_bytes()[:4], "<u4")[0])


def psa_events(path: Path) -> np.ndarray:
    return read_all(path).psa.events.event_numbers


def test_truncated_input_keeps_every_good_frame(tmp_path: Path, basis_file: Path,
                                                events_file: Path) -> None:
    length, good = frame_length(events_file), 950
    damaged = tmp_path / "trunc.adf"
    damaged.write_bytes(events_file.read_bytes()[:length * good + 3000])
    res = gpsa("run", str(replay_run(tmp_path, basis_file, damaged)), "-q")
    assert res.returncode == 1, res.stderr
    err = res.stderr.strip().splitlines()[-1]
    assert str(damaged) in err and f"byte offset {length * good}" in err
    assert "truncated frame" in err and "resync = true" in err
    out = tmp_path / "out" / "00A"
    assert not (out / "psa.adf").exists()  # not complete: never under the final name
    assert np.array_equal(psa_events(out / "psa.adf.partial"), np.arange(good))
    prov = json.loads((out / "gpsa-run.json").read_text())
    assert prov["status"] == "failed"
    assert prov["result"]["events_in"] == prov["result"]["events_out"] == good
    # resync: the run completes, skips the damaged tail and counts it
    res = gpsa("run", str(replay_run(tmp_path, basis_file, damaged, resync=True)), "-q")
    assert res.returncode == 0, res.stderr
    block = read_all(out / "psa.adf")
    assert len(block.psa) == good and block.counts["meta:eof"] == 1
    assert "corrupt regions skipped 1, bytes skipped 3,000" in res.stdout
    assert not (out / "psa.adf.partial").exists()


def test_garbage_in_the_middle(tmp_path: Path, basis_file: Path, events_file: Path) -> None:
    length = frame_length(events_file)
    data = bytearray(events_file.read_bytes())
    data[length * 400:length * 400 + 64] = b"\xff" * 64  # a corrupt frame key at frame 400
    damaged = tmp_path / "garbage.adf"
    damaged.write_bytes(bytes(data))
    res = gpsa("run", str(replay_run(tmp_path, basis_file, damaged)), "-q")
    assert res.returncode == 1, res.stderr
    assert f"byte offset {length * 400}" in res.stderr and "resync = true" in res.stderr
    out = tmp_path / "out" / "00A"
    assert np.array_equal(psa_events(out / "psa.adf.partial"), np.arange(400))
    res = gpsa("run", str(replay_run(tmp_path, basis_file, damaged, resync=True)), "-q")
    assert res.returncode == 0, res.stderr
    numbers = psa_events(out / "psa.adf")
    assert np.array_equal(numbers, np.r_[0:400, 401:1000])  # one frame lost, counted
    assert f"bytes skipped {length:,}" in res.stdout


def long_run(tmp_path: Path, basis: Path, **kw) -> Path:  # type: ignore[no-untyped-def]
    """A run of minutes whose blocks take seconds each, so that many are in flight."""
    return write_run(tmp_path, basis, **{"crystals": ("00A",), "events": 400_000,
                                         "block_size": 2000, **kw})


@pytest.mark.parametrize("mode", ["simple", "parallel"])
def test_sigterm_exits_within_the_bound(tmp_path: Path, basis_file: Path, mode: str) -> None:
    conf = long_run(tmp_path, basis_file)
    out = tmp_path / "out" / "00A" / "psa.adf.partial"
    proc = start("run", str(conf), "-q", "--mode", mode)
    try:
        wait_for(out, proc)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert elapsed < 5.0 + 0.5, f"exit {elapsed:.1f} s after SIGTERM (bound 5 s)"
    block = read_all(out)  # valid to the last block written
    numbers = block.psa.events.event_numbers
    assert "meta:eof" not in block.counts and len(numbers) > 0
    assert np.array_equal(numbers, np.arange(len(numbers)))
    assert not (out.parent / "psa.adf").exists()
    prov = json.loads((out.parent / "gpsa-run.json").read_text())
    assert prov["status"] == "interrupted" and prov["result"]["events_out"] == len(numbers)
    dump = gpsa("adf", "dump", str(out), "--first", "0")
    assert dump.returncode == 1 and "incomplete: no meta:eof" in dump.stderr


def test_second_ctrl_c_aborts_at_once(tmp_path: Path, basis_file: Path) -> None:
    conf = long_run(tmp_path, basis_file)
    out = tmp_path / "out" / "00A" / "psa.adf.partial"
    proc = start("run", str(conf), "-q", "--stop-timeout", "60")
    try:
        wait_for(out, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert elapsed < 3.0, f"second Ctrl-C took {elapsed:.1f} s"
    assert "interrupted" in stderr
    assert not (out.parent / "psa.adf").exists()
    assert json.loads((out.parent / "gpsa-run.json").read_text())["status"] == "aborted"


def children_of(pid: int) -> set[int]:
    """Live (not zombie) descendants of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        todo += list(kids - found)
        found |= kids
    return found


def alive(pids: set[int]) -> set[int]:
    live = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            live.add(p)
    return live


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill_9_of_the_parent_leaves_no_worker(tmp_path: Path, basis_file: Path) -> None:
    conf = write_run(tmp_path, basis_file, crystals=("00A", "00B"), events=100_000,
                     block_size=50, rate_hz=500.0)
    proc = start("run", str(conf), "-q", "--mode", "parallel", "--jobs", "2")
    workers: set[int] = set()
    try:
        wait_for(tmp_path / "out" / "00A" / "psa.adf.partial", proc)
        workers = children_of(proc.pid)
        assert workers
        proc.kill()  # SIGKILL: no handler, no cleanup in the parent
        proc.wait(10)
        deadline = time.monotonic() + 10
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(workers), f"processes left 10 s after kill -9: {alive(workers)}"
    finally:
        for p in alive(workers):
            os.kill(p, signal.SIGKILL)
        proc.communicate(timeout=10)  # the workers held the pipes; now at end of file
    prov = json.loads((tmp_path / "out" / "00A" / "gpsa-run.json").read_text())
    assert prov["status"] == "interrupted"  # the orphaned worker stopped and said so
    assert not (tmp_path / "out" / "00A" / "psa.adf").exists()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill_9_of_a_worker_fails_its_crystal(tmp_path: Path, basis_file: Path) -> None:
    conf = write_run(tmp_path, basis_file, crystals=("00A",), events=100_000, block_size=50,
                     rate_hz=500.0)
    proc = start("run", str(conf), "-q", "--mode", "parallel", "--jobs", "1")
    try:
        wait_for(tmp_path / "out" / "00A" / "psa.adf.partial", proc)
        workers = [p for p in children_of(proc.pid)  # not the resource tracker
                   if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, stderr
    assert "crystal 00A: worker process" in stderr and "killed by signal 9" in stderr
    out = tmp_path / "out" / "00A"
    assert (out / "psa.adf.partial").exists()
    prov = json.loads((out / "gpsa-run.json").read_text())
    assert prov["status"] == "failed" and "killed by signal 9" in prov["error"]
    assert {"path": str(out / "psa.adf.partial"), "state": "partial"} in prov["outputs"]


def test_failed_write_names_the_file(tmp_path: Path, basis_file: Path) -> None:
    """A write error (here the file size limit, EFBIG, as ENOSPC on a full disk) stops the
    run with one line naming the file; the output stays .partial."""
    text = textwrap.dedent(f"""\
        [run]
        crystals = ["00A"]

        [[stage]]
        actor = "simulator"
        basis = "{basis_file}"
        events = 2000
        block_size = 100
        truth = ""

        [[stage]]
        actor = "adf-writer"
        path = "events.adf"
        """)
    conf = tmp_path / "run.toml"
    conf.write_text(text)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    res = gpsa("run", str(conf), "-q", preexec_fn=limit)
    assert res.returncode == 1, res.stderr
    out = tmp_path / "out" / "00A"
    err = res.stderr.strip().splitlines()[-1]
    assert str(out / "events.adf.partial") in err and "File too large" in err
    assert not (out / "events.adf").exists()
    assert json.loads((out / "gpsa-run.json").read_text())["status"] == "failed"
