"""Event builder and event merger throughput on simulated coincidences (40 crystals, data:psa
level, :mod:`gpsa.simulate.coincidences`), with the correctness of each timed run:

* **builder** — the time-ordered stream of all crystals in blocks of ``--block`` crystal events
  through :class:`gpsa.globallevel.builder.EventBuilder` (window 10 ticks, both rules): crystal
  events/s and built events/s (best and median of ``--repeats``); the fraction of true events
  whose crystal events all landed in one built event, the fraction of *isolated* true events
  (no other within window + jitter) built exactly, and the purity (built events holding one
  true event only);
* **merger** — those built events and the ancillary frames (50 % of the true events, 50-52
  ticks late, plus random frames) through :class:`gpsa.globallevel.merger.EventMerger`
  (window 10, offset 50, MinFold 1), pushed alternately in blocks: AGATA events/s, and the
  fraction of coincident ancillary frames merged into the built event holding their true event.

    python bench/bench_builder.py [--out bench/results/builder.json] [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.globallevel.builder import EventBuilder  # noqa: E402
from gpsa.globallevel.events import BuiltEvents, MergedEvents  # noqa: E402
from gpsa.globallevel.merger import EventMerger  # noqa: E402
from gpsa.globallevel.window import Rule, event_index  # noqa: E402
from gpsa.simulate.coincidences import (  # noqa: E402
    NO_EVENT,
    AncillaryConfig,
    CoincidenceConfig,
    CoincidenceSim,
    simulate_coincidences,
)

log = logging.getLogger("bench_builder")
WINDOW, JITTER, DELAY = 10, 4, 50


def build(blocks: list[Any], rule: Rule) -> tuple[BuiltEvents, float]:
    b = EventBuilder(window=WINDOW, rule=rule)
    t0 = time.perf_counter()
    out = [b.push(x) for x in blocks] + [b.flush()]
    dt = time.perf_counter() - t0
    return BuiltEvents.concat([o for o in out if o is not None]), dt


def merge(built: BuiltEvents, sim: CoincidenceSim, block: int) -> tuple[MergedEvents, float]:
    a_parts = [built.take(slice(i, i + block)) for i in range(0, len(built), block)]
    anc = sim.ancillary
    n_block = max(1, block * len(anc) // max(len(built), 1))
    n_parts = [anc.take(slice(i, i + n_block)) for i in range(0, len(anc), n_block)]
    m = EventMerger(window=WINDOW, offset=DELAY, min_fold=1)
    t0 = time.perf_counter()
    out = []
    for a, n in itertools.zip_longest(a_parts, n_parts):
        out += [m.push(x) for x in (a, n) if x is not None]
    out.append(m.flush())
    dt = time.perf_counter() - t0
    return MergedEvents.concat([o for o in out if o is not None]), dt


def builder_truth(built: BuiltEvents, sim: CoincidenceSim) -> dict[str, Any]:
    n = len(sim.times)
    true = built.crystals.events.event_numbers.astype(np.int64)
    pairs = np.unique(true << 32 | event_index(built.offsets))
    parts = np.bincount(pairs >> 32, minlength=n)
    starts = built.offsets[:-1]
    pure = np.minimum.reduceat(true, starts) == np.maximum.reduceat(true, starts)
    exact = np.zeros(n, bool)
    whole = pure & (built.sizes == sim.multiplicity[true[starts]])
    exact[true[starts[whole]]] = True
    gaps = np.diff(sim.times.astype(np.int64)) > WINDOW + JITTER
    iso = np.concatenate([[True], gaps]) & np.concatenate([gaps, [True]])
    return {"true_events": n, "true_events_whole": int((parts == 1).sum()),
            "fraction_true_whole": float((parts == 1).mean()),
            "isolated_true_events": int(iso.sum()),
            "isolated_built_exactly": int(exact[iso].sum()),
            "fraction_isolated_built_exactly": float(exact[iso].mean()),
            "built_events": len(built), "purity": float(pure.mean())}


def merger_truth(merged: MergedEvents, built: BuiltEvents) -> dict[str, Any]:
    anc = merged.ancillary
    true = anc.event_numbers != NO_EVENT
    frame_event = np.repeat(np.arange(len(merged)), np.diff(merged.ancillary_offsets))[true]
    with_agata = merged.has_agata[frame_event]
    agata = (np.cumsum(merged.has_agata) - 1)[frame_event]
    # the AGATA event must hold a crystal event of the frame's true event
    ids = merged.agata.crystals.events.event_numbers.astype(np.int64)
    ev = event_index(merged.agata.offsets)
    have = np.unique(ev << 32 | ids)
    want = agata.astype(np.int64) << 32 | anc.event_numbers[true].astype(np.int64)
    right = with_agata & np.isin(want, have)
    return {"coincident_frames": int(true.sum()), "merged_with_their_event": int(right.sum()),
            "fraction_merged": float(right.mean()) if right.size else 1.0,
            "random_frames": int((~true).sum()), "merged_events": len(merged)}


def rate(n: int, times: list[float]) -> dict[str, float]:
    return {"per_s_best": n / min(times), "per_s_median": n / statistics.median(times)}


def run(n_events: int, rate_hz: float, block: int, repeats: int) -> dict[str, Any]:
    anc = AncillaryConfig(fraction=0.5, delay_ticks=DELAY, jitter_ticks=2, random_hz=2000.0)
    sim = simulate_coincidences(n_events, CoincidenceConfig(rate_hz=rate_hz, jitter_ticks=JITTER,
                                                            ancillary=anc), seed=1)
    blocks = list(sim.sorted_stream(block))
    res: dict[str, Any] = {"rate_hz": rate_hz, "crystal_events": len(sim.events),
                           "ancillary_frames": len(sim.ancillary), "rules": {}}
    rules: tuple[Rule, ...] = ("fixed", "sliding")
    for rule in rules:
        times, m_times = [], []
        for _ in range(repeats):
            built, dt = build(blocks, rule)
            times.append(dt)
            merged, mdt = merge(built, sim, block)
            m_times.append(mdt)
        r = {"builder_s": times, "merger_s": m_times,
             "builder_crystal_events": rate(len(sim.events), times),
             "builder_built_events": rate(len(built), times),
             "merger_agata_events": rate(len(built), m_times),
             "builder_truth": builder_truth(built, sim), "merger_truth": merger_truth(merged,
                                                                                      built)}
        res["rules"][rule] = r
        bt, mt = r["builder_truth"], r["merger_truth"]
        log.info("%7.0f Hz %-7s builder %9.0f crystal ev/s (%8.0f events/s) | whole %.5f "
                 "isolated exact %d/%d purity %.4f | merger %8.0f AGATA ev/s, frames merged "
                 "%d/%d", rate_hz, rule, r["builder_crystal_events"]["per_s_best"],
                 r["builder_built_events"]["per_s_best"], bt["fraction_true_whole"],
                 bt["isolated_built_exactly"], bt["isolated_true_events"], bt["purity"],
                 r["merger_agata_events"]["per_s_best"], mt["merged_with_their_event"],
                 mt["coincident_frames"])
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/builder.json", help="JSON result file")
    ap.add_argument("--events", type=int, default=200_000, help="true events per rate")
    ap.add_argument("--rates", type=float, nargs="+", default=[20_000.0, 200_000.0],
                    help="true-event rates, Hz")
    ap.add_argument("--block", type=int, default=4096, help="crystal events per block")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warm = simulate_coincidences(200, CoincidenceConfig(), seed=0)  # numba outside the clock
    build(list(warm.sorted_stream(64)), "fixed")
    results: dict[str, Any] = {
        "benchmark": "builder", "machine": machine_info(),
        "command": " ".join(["python bench/bench_builder.py",
                             *(sys.argv[1:] if argv is None else argv)]),
        "n_crystals": 40, "window_ticks": WINDOW, "jitter_ticks": JITTER,
        "merger": {"window_ticks": WINDOW, "offset_ticks": DELAY, "min_fold": 1},
        "block_crystal_events": args.block, "events": args.events,
        "runs": [run(args.events, r, args.block, args.repeats) for r in args.rates]}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
