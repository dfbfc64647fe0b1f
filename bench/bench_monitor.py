"""Overhead of monitoring: the same chain with metrics off and on, events/s ratio.

"On" is what a monitored run does: the chain feeds an :class:`gpsa.monitor.observe.Observer`
for every stage (events, blocks, bytes, busy seconds, the per-block histogram, queue depths),
a ``/metrics`` server runs on a free port and is scraped every 0.5 s by a client thread, and the
snapshot thread checks an alarm every second. "Off" is the same chain with none of it. Runs
alternate off/on, ``--repeats`` times each; the ratios are of the medians and of the best runs
(the best is the least disturbed by other work on a shared machine), and the median of the
per-round ratios (each "on" run against the "off" run just before it). Each run also counts
the process's CPU seconds (every thread: the chain's, numba's, the monitor's and the scraping
client's): events per CPU second are far less disturbed by other processes than events per
wall second, and their ratio is the overhead's cost in work.

Two chains:

* **passthrough** — the worst case: a producer of ready-made blocks (``--block`` events of
  38 x 60 int16 traces), three filters that pass blocks on, a consumer that counts: the
  per-block cost of the chain itself, nothing else;
* **psa** — the local chain of a run: simulator -> preprocess -> psa (grid search, toy 6 mm
  basis) -> post-psa -> a consumer that counts.

The chain rates on a shared 2-core machine vary by more than the effect, so the script also
times one meter update alone (``meter_add_seconds``) and derives the pass-through ratio from it.

Each timed run checks that every event arrived and, when on, that ``gpsa_events_total`` of the
consumer equals the events.

    python bench/bench_monitor.py [--out bench/results/monitor.json] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.monitor.session import MonitorSession  # noqa: E402
from gpsa.monitor.settings import AlarmSpec, MonitorConfig  # noqa: E402
from gpsa.runtime.actor import Consumer, Filter, Producer, RunContext  # noqa: E402
from gpsa.runtime.chain import Chain  # noqa: E402

log = logging.getLogger("bench_monitor")


class Blocks(Producer):
    name = "bench-blocks"

    def __init__(self, n_blocks: int, block: int) -> None:
        super().__init__()
        self.n_blocks, self.traces = n_blocks, np.zeros((block, 38, 60), np.int16)

    def produce(self) -> Iterator[Any]:
        for _ in range(self.n_blocks):
            yield self.traces


class Pass(Filter):
    name = "bench-pass"

    def process(self, block: Any) -> Any:
        return block


class Count(Consumer):
    name = "bench-count"

    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def process(self, block: Any) -> None:
        self.events += len(block)


def passthrough_chain(n_blocks: int, block: int) -> Callable[[RunContext], tuple[Chain, Count]]:
    def make(ctx: RunContext) -> tuple[Chain, Count]:
        filters = [Pass() for _ in range(3)]
        for i, f in enumerate(filters):
            f.label = f"pass{i}"
        count = Count()
        return Chain(Blocks(n_blocks, block), filters, [count], context=ctx), count
    return make


def psa_chain(basis: Path, events: int) -> Callable[[RunContext], tuple[Chain, Count]]:
    from gpsa.plugins.catalogue import get_catalogue

    cat = get_catalogue()

    def make(ctx: RunContext) -> tuple[Chain, Count]:
        sim = cat.actor("simulator")(basis=str(basis), events=events, block_size=100)
        pre = cat.actor("preprocess")(align_t0=20)
        psa = cat.actor("psa")(basis=str(basis))
        post = cat.actor("post-psa")()
        count = Count()
        return Chain(sim, [pre, psa, post], [count], context=ctx), count
    return make


def scraper(url: str, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        with urllib.request.urlopen(url, timeout=5) as resp:
            resp.read()


def timed(make: Callable[[RunContext], tuple[Chain, Count]], expected: int, on: bool
          ) -> tuple[float, float]:
    """(events per wall second, events per CPU second of this process: every thread, the
    monitor's and the scraping client's included)."""
    ctx = RunContext(crystal="00A", output_dir=Path(tempfile.mkdtemp(prefix="gpsa-bm-")))
    if not on:
        chain, count = make(ctx)
        t0, c0 = time.perf_counter(), time.process_time()
        chain.run()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        assert count.events == expected, (count.events, expected)
        return expected / dt, expected / dc
    alarm = AlarmSpec(name="slow", metric="rate", condition="below", value=1.0,
                      for_seconds=5.0)
    with MonitorSession(MonitorConfig(metrics_port=1, alarms=[alarm]), port=0) as session:
        ctx.observer = session.observer
        stop = threading.Event()
        t = threading.Thread(target=scraper, args=(session.url.replace(
            session.url.split("/")[2].split(":")[0], "127.0.0.1"), stop), daemon=True)
        t.start()
        chain, count = make(ctx)
        t0, c0 = time.perf_counter(), time.process_time()
        chain.run()
        dt = time.perf_counter() - t0
        stop.set()
        t.join()
        dc = time.process_time() - c0
        got = sum(v for n, lab, v in session.observer.samples()
                  if n == "gpsa_events_total" and lab["stage"] == "bench-count")
    assert count.events == expected and got == expected, (count.events, got, expected)
    return expected / dt, expected / dc


def compare(name: str, make: Callable[[RunContext], tuple[Chain, Count]], expected: int,
            repeats: int) -> dict[str, Any]:
    timed(make, expected, False)  # warm-up (numba compilation, caches)
    off, on, off_cpu, on_cpu = [], [], [], []
    for _ in range(repeats):
        for on_run, rates, cpus in ((False, off, off_cpu), (True, on, on_cpu)):
            rate, cpu = timed(make, expected, on_run)
            rates.append(rate)
            cpus.append(cpu)
    paired = [b / a for a, b in zip(off, on, strict=True)]
    paired_cpu = [b / a for a, b in zip(off_cpu, on_cpu, strict=True)]
    res = {"chain": name, "events": expected, "repeats": repeats,
           "off_events_per_s": off, "on_events_per_s": on,
           "off_median": statistics.median(off), "on_median": statistics.median(on),
           "ratio_on_off": statistics.median(on) / statistics.median(off),
           "off_best": max(off), "on_best": max(on), "ratio_best": max(on) / max(off),
           "ratio_paired_median": statistics.median(paired),
           "off_events_per_cpu_s": off_cpu, "on_events_per_cpu_s": on_cpu,
           "cpu_ratio_paired_median": statistics.median(paired_cpu),
           "cpu_ratio_of_medians": statistics.median(on_cpu) / statistics.median(off_cpu)}
    log.info("%s: off %.0f events/s, on %.0f events/s, ratio of medians %.3f, of bests %.3f, "
             "paired %.3f; per CPU second: paired %.3f, of medians %.3f", name,
             res["off_median"], res["on_median"], res["ratio_on_off"], res["ratio_best"],
             res["ratio_paired_median"], res["cpu_ratio_paired_median"],
             res["cpu_ratio_of_medians"])
    return res


def meter_cost(block: int) -> float:
    """Seconds one :meth:`StageMeter.add` takes (best of 5 x 100k calls): what a monitored run
    adds per block and stage, a number far less disturbed by other work than a chain's rate."""
    import timeit

    from gpsa.monitor.meter import StageMeter

    meter, traces = StageMeter(), np.zeros((block, 38, 60), np.int16)
    n = 100_000
    return min(timeit.repeat(lambda: meter.add(traces, block, 1e-3), number=n, repeat=5)) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/monitor.json"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=3000)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--psa-events", type=int, default=1500)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    load_before = os.getloadavg()
    basis = Path(tempfile.mkdtemp(prefix="gpsa-bm-")) / "toy6.h5"
    write_basis(basis, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
    results = [compare("passthrough", passthrough_chain(args.blocks, args.block),
                       args.blocks * args.block, args.repeats),
               compare("psa", psa_chain(basis, args.psa_events), args.psa_events,
                       args.repeats)]
    add = meter_cost(args.block)
    off_block_s = args.block / results[0]["off_median"]
    out = {"benchmark": "monitor", "machine": machine_info(),
           "command": "python bench/bench_monitor.py " + " ".join(argv or sys.argv[1:]),
           "block_events": args.block,
           "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
           "results": results,
           "meter_add_seconds": add,
           # 5 stages metered per block, against the off chain's median seconds per block
           "passthrough_ratio_from_meter_cost": off_block_s / (off_block_s + 5 * add)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({**{r["chain"]: {"median": round(r["ratio_on_off"], 4),
                                       "best": round(r["ratio_best"], 4),
                                       "paired": round(r["ratio_paired_median"], 4),
                                       "cpu_paired": round(r["cpu_ratio_paired_median"], 4)}
                         for r in results},
                      "meter_add_us": round(add * 1e6, 3),
                      "passthrough_ratio_from_meter_cost":
                      round(out["passthrough_ratio_from_meter_cost"], 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
