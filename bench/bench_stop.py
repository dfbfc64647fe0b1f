"""How long ``gpsa run`` takes to exit after SIGTERM, and what a ``kill -9`` of a parallel run's
parent leaves behind: the shutdown bounds a batch scheduler or Docker relies on (SIGKILL follows
SIGTERM after 10-30 s).

A long run (toy 6 mm basis, simulator -> preprocess -> PSA -> post-PSA -> ADF writer, blocks
of ``--block-size`` events, so that several seconds of work are in flight) is started as a real
``gpsa`` subprocess; once its first block is written it gets SIGTERM, and the time to its exit is
taken, ``--repeat`` times per mode. Then a parallel run with two crystals is started, its parent
killed with SIGKILL, and the worker processes still alive 10 s later are counted. Correctness:
the exit code (143) and an output file that reads back with events 0..n-1.

The ``gpsa`` imported is whatever ``python -m gpsa.cli.main`` finds, so an older checkout can be
measured with ``PYTHONPATH=/path/to/old/checkout``.

    python bench/bench_stop.py [--out bench/results/stop.json] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

GPSA = [sys.executable, "-m", "gpsa.cli.main"]
RUN = """\
[run]
crystals = {crystals}
output = "out"

[[stage]]
actor = "simulator"
basis = "{basis}"
events = {events}
block_size = {block}
rate_hz = {rate}

[[stage]]
actor = "preprocess"
align_t0 = 20

[[stage]]
actor = "psa"
basis = "{basis}"

[[stage]]
actor = "post-psa"

[[stage]]
actor = "adf-writer"
"""


def _first_output(out: Path) -> Path | None:
    for name in ("psa.adf.partial", "psa.adf"):  # new and old output names
        p = out / name
        if p.exists() and p.stat().st_size > 0:
            return p
    return None


def _wait_output(out: Path, proc: subprocess.Popen[bytes], timeout: float = 300) -> Path:
    deadline = time.monotonic() + timeout
    while True:
        p = _first_output(out)
        if p is not None:
            return p
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"no output (exit {proc.poll()})")
        time.sleep(0.05)


def sigterm_once(folder: Path, basis: Path, mode: str, block: int) -> dict[str, Any]:
    conf = folder / "run.toml"
    conf.write_text(RUN.format(crystals='["00A"]', basis=basis, events=400_000, block=block,
                               rate=0.0))
    proc = subprocess.Popen([*GPSA, "run", str(conf), "-q", "--mode", mode],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        out = _wait_output(folder / "out" / "00A", proc)
        time.sleep(1.0)  # let the queues fill
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)
        seconds = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    from gpsa.adf import read_all

    out = _first_output(folder / "out" / "00A") or out
    numbers = read_all(out).psa.events.event_numbers
    ok = bool(proc.returncode == 143 and len(numbers) and (numbers == range(len(numbers))).all())
    return {"mode": mode, "seconds_to_exit": round(seconds, 3), "exit_code": proc.returncode,
            "events_written": int(len(numbers)), "output": out.name, "correct": ok}


def _children(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        kids = {c for c, pp in parents.items() if pp == parent}
        todo += list(kids - found)
        found |= kids
    return found


def _alive(pids: set[int]) -> set[int]:
    live = set()
    for p in pids:
        try:
            if (Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z":
                live.add(p)
        except OSError:
            pass
    return live


def kill9_parent(folder: Path, basis: Path) -> dict[str, Any]:
    conf = folder / "run.toml"
    conf.write_text(RUN.format(crystals='["00A", "00B"]', basis=basis, events=100_000, block=50,
                               rate=500.0))
    proc = subprocess.Popen([*GPSA, "run", str(conf), "-q", "--mode", "parallel", "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_output(folder / "out" / "00A", proc)
    time.sleep(1.0)
    workers = _children(proc.pid)
    proc.kill()
    proc.wait()
    t0 = time.monotonic()
    while _alive(workers) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    left = _alive(workers)
    gone_after = round(time.monotonic() - t0, 2) if not left else None
    for p in left:
        os.kill(p, signal.SIGKILL)
    return {"processes_before_kill": len(workers), "alive_after_10s": len(left),
            "all_gone_after_s": gone_after}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", default="bench/results/stop.json")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--block-size", type=int, default=2000)
    args = ap.parse_args()
    import gpsa
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    results: dict[str, Any] = {"benchmark": "stop", "machine": machine_info(),
                               "gpsa": str(Path(gpsa.__file__).parent),
                               "block_size": args.block_size, "sigterm": [], "kill9_parent": None}
    with tempfile.TemporaryDirectory() as tmp:
        basis = Path(tmp) / "toy6.h5"
        write_basis(basis, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
        for mode in ("simple", "parallel"):
            for i in range(args.repeat):
                folder = Path(tmp) / f"{mode}{i}"
                folder.mkdir()
                results["sigterm"].append(sigterm_once(folder, basis, mode, args.block_size))
                print(json.dumps(results["sigterm"][-1]), flush=True)
        folder = Path(tmp) / "kill9"
        folder.mkdir()
        results["kill9_parent"] = kill9_parent(folder, basis)
        print(json.dumps(results["kill9_parent"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
