"""Chains cut by Central Memory streams, with a real redis-server and real worker processes:
producer → preprocess → stream → N ``gpsa worker psa`` → stream → post-PSA → file gives the
in-process run's file byte for byte, also when a worker is killed mid-stream; another language
(here redis-cli) can feed a block and read the result; an unreachable server stops the run
before any data is read."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gpsa.central.server import LocalRedis, redis_cli_binary
from gpsa.cli.main import main

GPSA = [sys.executable, "-m", "gpsa.cli.main"]
EVENTS, BLOCK = 1200, 50

SIM = """\
[[stage]]
actor = "simulator"
basis = "{basis}"
events = {events}
block_size = {block}
rate_hz = {rate}
truth = ""

[[stage]]
actor = "preprocess"
align_t0 = 20
"""


def run_file(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def split_merge(folder: Path, basis: Path, *, rate: float = 0.0,
                events: int = EVENTS) -> tuple[Path, Path, Path]:
    """The in-process run, the producer half (to stream 'pre') and the last half (from
    stream 'psa')."""
    sim = SIM.format(basis=basis, events=events, block=BLOCK, rate=rate)
    inproc = run_file(folder, "inproc.toml", f'[run]\ncrystals = ["00A"]\noutput = "inproc"\n\n'
                      f'{sim}\n[[stage]]\nactor = "psa"\nbasis = "{basis}"\n\n'
                      '[[stage]]\nactor = "post-psa"\n\n[[stage]]\nactor = "adf-writer"\n')
    split = run_file(folder, "split.toml", f'[run]\ncrystals = ["00A"]\noutput = "split"\n\n'
                     f'{sim}\n[[stage]]\nactor = "redis-writer"\nstream = "pre"\n'
                     'max_pending = 8\n')
    merge = run_file(folder, "merge.toml", '[run]\ncrystals = ["00A"]\noutput = "merge"\n\n'
                     '[[stage]]\nactor = "redis-reader"\nstream = "psa"\nordered = true\n\n'
                     '[[stage]]\nactor = "post-psa"\n\n[[stage]]\nactor = "adf-writer"\n')
    return inproc, split, merge


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalRedis]:
    with LocalRedis(tmp_path / "redis") as srv:
        yield srv


def gpsa(*args: str, **kw) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen([*GPSA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def worker(tmp_path: Path, basis: Path, url: str, i: int) -> subprocess.Popen[str]:
    return gpsa("worker", "psa", "--crystal", "00A", "--basis", str(basis), "--redis", url,
                "--dir", str(tmp_path / f"w{i}"), "--claim-idle-ms", "1000", "-q")


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err + out


def test_two_workers_give_the_in_process_file(tmp_path: Path, basis_file: Path,
                                              server: LocalRedis) -> None:
    inproc, split, merge = split_merge(tmp_path, basis_file)
    assert main(["run", str(inproc), "-q"]) == 0
    procs = [gpsa("run", str(split), "-q", "--redis", server.url),
             worker(tmp_path, basis_file, server.url, 1),
             worker(tmp_path, basis_file, server.url, 2),
             gpsa("run", str(merge), "-q", "--redis", server.url)]
    results = [finish(p) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    a = (tmp_path / "inproc" / "00A" / "psa.adf").read_bytes()
    assert a == (tmp_path / "merge" / "00A" / "psa.adf").read_bytes()
    got = [json.loads((tmp_path / f"w{i}" / "out" / "00A" / "gpsa-run.json").read_text())
           for i in (1, 2)]
    blocks = [g["result"]["actors"][0]["counters"]["blocks_received"] for g in got]
    assert sum(blocks) == EVENTS // BLOCK
    client = __import__("redis").Redis.from_url(server.url)
    assert client.xlen("gpsa:{gpsa:00A}:pre") == client.xlen("gpsa:{gpsa:00A}:psa") == 0
    client.close()


def test_sigkill_of_one_of_three_workers(tmp_path: Path, basis_file: Path,
                                         server: LocalRedis) -> None:
    inproc, split, merge = split_merge(tmp_path, basis_file, rate=400.0)
    assert main(["run", str(inproc), "-q"]) == 0
    producer = gpsa("run", str(split), "-q", "--redis", server.url)
    workers = [worker(tmp_path, basis_file, server.url, i) for i in range(3)]
    last = gpsa("run", str(merge), "-q", "--redis", server.url)
    out = tmp_path / "merge" / "00A" / "psa.adf.partial"
    deadline = time.monotonic() + 120
    while not (out.exists() and out.stat().st_size > 0):
        assert time.monotonic() < deadline and last.poll() is None, finish(last)
        time.sleep(0.05)
    workers[0].send_signal(signal.SIGKILL)  # holding a block or two, most likely
    t_kill = time.monotonic()
    results = [finish(p) for p in (producer, *workers[1:], last)]
    recovery = time.monotonic() - t_kill
    finish(workers[0])
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    final = (tmp_path / "merge" / "00A" / "psa.adf").read_bytes()
    assert final == (tmp_path / "inproc" / "00A" / "psa.adf").read_bytes()  # 0 lost, in order
    prov = json.loads((tmp_path / "merge" / "00A" / "gpsa-run.json").read_text())
    dup = prov["result"]["actors"][0]["counters"]["duplicates_dropped"]
    print(f"lost 0, duplicate blocks dropped {dup}, done {recovery:.1f} s after the kill")


def test_redis_cli_feeds_a_block_and_reads_the_result(tmp_path: Path, basis_file: Path,
                                                      server: LocalRedis) -> None:
    """Another language needs only the entry layout: redis-cli writes the block (ADF frames
    made with `gpsa simulate`), a gpsa worker analyses it, redis-cli reads the result."""
    from gpsa.adf import read_all
    from gpsa.central.streams import decode_block

    sim = tmp_path / "sim"
    assert main(["simulate", "--basis", str(basis_file), "--events", "8", "--out", str(sim),
                 "-q"]) == 0
    frames = (sim / "00A" / "events.adf").read_bytes()
    block = read_all(frames).crystal
    adf = frames[:len(frames) - 20]  # without the meta:eof frame
    cli = [redis_cli_binary(), "-s", str(server.socket)]
    key = "gpsa:{gpsa:00A}:pre"
    subprocess.run([*cli, "-x", "XADD", key, "*", "seq", "0", "events", "8", "first_event",
                    "0", "last_event", "7", "adf"], input=adf, check=True, capture_output=True)
    subprocess.run([*cli, "SET", key + ":end", '{"blocks": 1, "events": 8, "complete": true}'],
                   check=True, capture_output=True)
    code, log = finish(worker(tmp_path, basis_file, server.url, 0))
    assert code == 0, log
    listing = subprocess.run([*cli, "XRANGE", "gpsa:{gpsa:00A}:psa", "-", "+"], check=True,
                             capture_output=True).stdout
    assert b"first_event" in listing and b"last_event" in listing and b"seq" in listing
    end = subprocess.run([*cli, "GET", "gpsa:{gpsa:00A}:psa:end"], check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(end) == {"blocks": 1, "events": 8, "complete": True}
    client = __import__("redis").Redis.from_url(server.url)
    (_, fields), = client.xrange("gpsa:{gpsa:00A}:psa")
    client.close()
    psa = decode_block(fields[b"adf"], None)
    assert np.array_equal(psa.events.event_numbers, block.event_numbers)
    assert len(psa.hits) > 0


def test_unreachable_redis_stops_before_reading(tmp_path: Path, basis_file: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _, split, _ = split_merge(tmp_path, basis_file)
    url = "redis://127.0.0.1:1/0"
    assert main(["run", str(split), "-q", "--redis", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "redis://127.0.0.1:1/0 unreachable" in err[0]
    assert not (tmp_path / "split").exists()


def test_backpressure_under_maxmemory(tmp_path: Path, basis_file: Path) -> None:
    """A producer 10x faster than PSA (a replay of preprocessed events from a file), with a
    server whose memory (maxmemory 16 MB, noeviction) is far smaller than the run's data
    (4,000 preprocessed events, ~36 MB): it waits on the stream's length (max_pending 8 blocks
    of ~0.46 MB; the server peaks near 9 MB), nothing is lost, nothing evicted, no write
    refused, and the output equals the in-process run's."""
    events = 4000
    sim = SIM.format(basis=basis_file, events=events, block=BLOCK, rate=0.0)
    record = run_file(tmp_path, "record.toml", f'[run]\ncrystals = ["00A"]\noutput = "rec"\n\n'
                      f'{sim}\n[[stage]]\nactor = "adf-writer"\npath = "pre.adf"\n')
    assert main(["run", str(record), "-q"]) == 0
    _, _, merge = split_merge(tmp_path, basis_file)  # (its in-process and split files replaced)
    replay = (f'[[stage]]\nactor = "adf-reader"\npath = "{tmp_path / "rec" / "00A" / "pre.adf"}"\n'
              f'frames_per_block = {BLOCK}\n')
    inproc = run_file(tmp_path, "inproc.toml", f'[run]\ncrystals = ["00A"]\noutput = "inproc"\n\n'
                      f'{replay}\n[[stage]]\nactor = "psa"\nbasis = "{basis_file}"\n\n'
                      '[[stage]]\nactor = "post-psa"\n\n[[stage]]\nactor = "adf-writer"\n')
    split = run_file(tmp_path, "split.toml", f'[run]\ncrystals = ["00A"]\noutput = "split"\n\n'
                     f'{replay}\n[[stage]]\nactor = "redis-writer"\nstream = "pre"\n'
                     'max_pending = 8\n')
    with LocalRedis(tmp_path / "small", maxmemory=16 << 20) as srv:
        producer = gpsa("run", str(split), "-q", "--redis", srv.url)
        client = __import__("redis").Redis.from_url(srv.url)
        peak = 0
        while producer.poll() is None and peak == 0:
            peak = max(peak, client.xlen("gpsa:{gpsa:00A}:pre"))
            time.sleep(0.01)
        time.sleep(1.0)  # the producer is now waiting on the full stream
        peak = max(peak, client.xlen("gpsa:{gpsa:00A}:pre"))
        assert producer.poll() is None and peak <= 8, finish(producer)
        w = worker(tmp_path, basis_file, srv.url, 0)
        last = gpsa("run", str(merge), "-q", "--redis", srv.url)
        results = [finish(p) for p in (producer, w, last)]
        assert client.info("stats")["evicted_keys"] == 0
        used_peak = client.info("memory")["used_memory_peak"]
        client.close()
    assert [code for code, _ in results] == [0, 0, 0], results
    prov = json.loads((tmp_path / "split" / "00A" / "gpsa-run.json").read_text())
    busy = {a["label"]: a["busy_seconds"] for a in prov["result"]["actors"]}
    w_prov = json.loads((tmp_path / "w0" / "out" / "00A" / "gpsa-run.json").read_text())
    psa_busy = next(a["busy_seconds"] for a in w_prov["result"]["actors"] if a["label"] == "psa")
    faster = psa_busy / busy["adf-reader"]
    print(f"maxmemory 16 MB: producer {faster:.1f}x faster than PSA, waited "
          f"{busy['redis-writer']:.1f} s, server peak {used_peak / 2**20:.1f} MB; "
          "lost 0, duplicated 0, evicted 0")
    assert faster >= 10
    writer = prov["result"]["actors"][-1]["counters"]
    assert writer["writes_refused_full"] == 0 and writer["blocks_sent"] == events // BLOCK
    assert writer["backpressure_ms"] > 1000  # it waited for the PSA worker
    assert main(["run", str(inproc), "-q"]) == 0
    final = (tmp_path / "merge" / "00A" / "psa.adf").read_bytes()
    assert len(final) > 0 and final == (tmp_path / "inproc" / "00A" / "psa.adf").read_bytes()


def test_redis_restart_mid_stream(tmp_path: Path, basis_file: Path,
                                  server: LocalRedis) -> None:
    """redis-server SIGKILLed mid-run and restarted on the same AOF: the clients reconnect
    (bounded backoff), the run goes on, and the file equals the in-process one."""
    inproc, split, merge = split_merge(tmp_path, basis_file, rate=400.0)
    assert main(["run", str(inproc), "-q"]) == 0
    procs = [gpsa("run", str(split), "-q", "--redis", server.url),
             worker(tmp_path, basis_file, server.url, 0),
             gpsa("run", str(merge), "-q", "--redis", server.url)]
    out = tmp_path / "merge" / "00A" / "psa.adf.partial"
    deadline = time.monotonic() + 120
    while not (out.exists() and out.stat().st_size > 0):
        assert time.monotonic() < deadline and procs[2].poll() is None, finish(procs[2])
        time.sleep(0.05)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    time.sleep(1.0)  # clients see the server gone
    t0 = time.monotonic()
    server.start()  # same folder, same socket, same AOF
    results = [finish(p) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0], results
    final = (tmp_path / "merge" / "00A" / "psa.adf").read_bytes()
    assert final == (tmp_path / "inproc" / "00A" / "psa.adf").read_bytes()
    prov = json.loads((tmp_path / "merge" / "00A" / "gpsa-run.json").read_text())
    dup = prov["result"]["actors"][0]["counters"]["duplicates_dropped"]
    print(f"redis restart: lost 0, duplicate blocks dropped {dup}, run done "
          f"{time.monotonic() - t0:.1f} s after the restart")
