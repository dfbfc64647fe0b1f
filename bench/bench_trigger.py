"""Soft trigger: fast-path decision rate on 40 crystals of simulated coincidences, and the slow
path's saving on one simulated crystal at ~25 % acceptance, each timing with its check:

* **fast path** — per-crystal record inputs (timestamp, crystal, event number, energy: the
  data:psa-level coincidences of :mod:`gpsa.simulate.coincidences`, blocks of ``--block``)
  through :class:`gpsa.globallevel.trigger_run.FastPath` (time sorter + event building in a
  10-tick window + condition fold >= 2, decisions into files): records/s and built events/s
  (best and median of ``--repeats``); the accepted crystal events must equal a plain reference
  (all records sorted, fixed window, fold >= 2);
* **slow path** — ``gpsa run`` of one simulated crystal (toy basis, ``--psa-events`` events)
  without a trigger, then ``gpsa trigger`` + ``gpsa run`` with a ``trigger-gate`` accepting the
  top quarter of the core energies: input events per wall second, PSA busy seconds, and the
  check that the psa stage saw exactly the accepted events.

    python bench/bench_trigger.py [--out bench/results/trigger.json] [--events N]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.globallevel.trigger import SoftTrigger, make_records  # noqa: E402
from gpsa.globallevel.trigger_conditions import BUILTIN_CONDITIONS  # noqa: E402
from gpsa.globallevel.trigger_io import FileSink, FileSource  # noqa: E402
from gpsa.globallevel.trigger_run import FastPath, run_inputs  # noqa: E402
from gpsa.globallevel.window import event_offsets, fold  # noqa: E402
from gpsa.simulate.coincidences import CoincidenceConfig, simulate_coincidences  # noqa: E402

log = logging.getLogger("bench_trigger")
WINDOW, MIN_FOLD = 10, 2


def fast_path(n_events: int, block: int, repeats: int, folder: Path) -> dict[str, Any]:
    sim = simulate_coincidences(n_events, CoincidenceConfig(rate_hz=20_000), seed=1)
    names = [f"{i:02d}" for i in range(40)]
    per: dict[str, list[Any]] = {}
    for i, name in enumerate(names):
        ev = [b.events for b in sim.crystals.get(i, []) if len(b)]
        if not ev:
            per[name] = []
            continue
        ts = np.concatenate([e.timestamps for e in ev])
        rec = make_records(ts, np.concatenate([e.crystal_ids for e in ev]),
                           np.concatenate([e.event_numbers for e in ev]),
                           np.concatenate([e.e0 for e in ev]))
        per[name] = [rec.take(slice(a, a + block)) for a in range(0, len(rec), block)]
    settings = {"min_fold": MIN_FOLD, "min_energy_kev": 0.0}
    times, report = [], {}
    for r in range(repeats):
        trig = SoftTrigger([BUILTIN_CONDITIONS[0]], settings, window=WINDOW)
        fast = FastPath(trig, FileSink(folder / str(r), names, settings), names,
                        emit_rows=block)
        t0 = time.perf_counter()
        report = run_inputs(fast, {n: iter(b) for n, b in per.items()})
        times.append(time.perf_counter() - t0)
    ev = sim.events.events  # the reference
    order = np.lexsort((ev.crystal_ids, ev.timestamps))
    cid, num = ev.crystal_ids[order], ev.event_numbers[order]
    off = event_offsets(ev.timestamps[order], WINDOW, "fixed")
    keep = np.repeat(fold(cid, off) >= MIN_FOLD, np.diff(off))
    equal = all(np.array_equal(FileSource(folder / "0" / f"{n}.npz").accepted,
                               np.sort(num[keep & (cid == i)])) for i, n in enumerate(names))
    t = report["trigger"]
    n = t["crystal_events_in"]
    return {"true_events": n_events, "crystal_events": n, "block": block,
            "events_built": t["events_built"], "events_accepted": t["events_accepted"],
            "crystal_events_accepted": t["crystal_events_accepted"],
            "acceptance_equal_to_reference": bool(equal),
            "records_per_s_best": n / min(times),
            "records_per_s_median": n / statistics.median(times),
            "built_events_per_s_best": t["events_built"] / min(times),
            "seconds": times}


RUN = """\
[run]
crystals = ["00A"]
output = "out"

[[stage]]
actor = "simulator"
basis = "{basis}"
events = {events}
block_size = 200
truth = ""

[[stage]]
actor = "preprocess"
align_t0 = 20
{gate}
[[stage]]
actor = "psa"
basis = "{basis}"

[[stage]]
actor = "adf-writer"
"""


def _run(folder: Path, basis: Path, events: int, gate: str, trigger: bool) -> dict[str, Any]:
    from gpsa.cli.main import main

    folder.mkdir(parents=True)
    conf = folder / "run.toml"
    conf.write_text(RUN.format(basis=basis, events=events, gate=gate))
    out: dict[str, Any] = {}
    if trigger:
        t0 = time.perf_counter()
        assert main(["trigger", str(conf)]) == 0
        out["trigger_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert main(["run", str(conf), "-q"]) == 0
    wall = time.perf_counter() - t0
    rec = json.loads((folder / "out" / "00A" / "gpsa-run.json").read_text())
    actors = {a["label"]: a for a in rec["result"]["actors"]}
    psa = actors["psa"]
    out.update(events_in=actors["simulator"]["events"], psa_events=psa["events"],
               psa_busy_seconds=psa["busy_seconds"], run_wall_seconds=wall,
               input_events_per_wall_s=actors["simulator"]["events"] / wall,
               psa_events_per_busy_s=psa["events_per_busy_second"])
    if trigger:
        out["gate"] = actors["trigger-gate"]["counters"]
        out["accepted"] = int(FileSource(folder / "out" / "trigger" / "00A.npz").accepted.size)
    return out


def slow_path(events: int, folder: Path) -> dict[str, Any]:
    from gpsa.adf import read_all
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    basis = folder / "toy6.h5"
    write_basis(basis, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
    plain = _run(folder / "plain", basis, events, "", trigger=False)
    e0 = read_all(folder / "plain" / "out" / "00A" / "psa.adf").psa.events.e0
    threshold = float(np.quantile(e0, 0.75))
    gate = (f'[[stage]]\nactor = "trigger-gate"\nconditions = ["energy-sum"]\n'
            f'min_energy_kev = {threshold}\n')
    gated = _run(folder / "gated", basis, events, gate, trigger=True)
    return {"untriggered": plain, "triggered": gated, "threshold_kev": threshold,
            "acceptance": gated["accepted"] / events,
            "psa_events_equal_accepted": gated["psa_events"] == gated["accepted"],
            "input_rate_gain": gated["input_events_per_wall_s"]
            / plain["input_events_per_wall_s"],
            "psa_busy_ratio": gated["psa_busy_seconds"] / plain["psa_busy_seconds"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "trigger.json")
    ap.add_argument("--events", type=int, default=200_000, help="true events, fast path")
    ap.add_argument("--block", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--psa-events", type=int, default=1000, help="events of the slow path")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        fast = fast_path(args.events, args.block, args.repeats, Path(tmp) / "fast")
        slow = slow_path(args.psa_events, Path(tmp) / "slow")
    result = {"machine": machine_info(), "fast_path": fast, "slow_path": slow}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.warning("fast path %.2f M records/s (best), slow path: acceptance %.3f, input rate x%.2f",
                fast["records_per_s_best"] / 1e6, slow["acceptance"], slow["input_rate_gain"])
    return 0 if fast["acceptance_equal_to_reference"] and slow["psa_events_equal_accepted"] else 1


if __name__ == "__main__":
    sys.exit(main())
