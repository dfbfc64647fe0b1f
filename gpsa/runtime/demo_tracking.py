"""The tracking comparison of ``gpsa demo --global`` (:mod:`gpsa.runtime.demo_global`): the
efficiency / P/T table of the run (tracking on PSA positions, from the global summary) beside
the same decays tracked on their true positions (the transport's points), and the fraction of
gammas whose first interaction was found in each.

Both use the tracking actor's settings of the run (here its defaults and ``inner_radius_mm``),
the same lines, window (±3 keV) and threshold (10 keV), and the number of decays emitted. The
PSA side's tracked events are matched to their decays by timestamp (a built event's timestamp
is its first crystal event's: the decay's, plus a flight time under one tick).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DISTANCE_MM = 5.0


def _settings(stage: dict[str, Any]) -> Any:
    from gpsa.tracking.tracker import TrackingSettings

    names = set(TrackingSettings.__dataclass_fields__)
    values = {k: v for k, v in stage.items() if k in names}
    if "source_mm" in values:
        values["source_mm"] = tuple(values["source_mm"])
    return TrackingSettings(**values)


def _tracking_stage(summary: dict[str, Any]) -> dict[str, Any]:
    stages = summary.get("config", {}).get("stages", [])
    return next((dict(st.get("settings", {})) for st in stages if st.get("actor") == "tracking"),
                {})


def psa_first_found(tracked_adf: Path, truth: Any, events: dict[str, np.ndarray]) -> float:
    """First-interaction fraction of the PSA run: tracked first points (data:tracked in
    ``tracked_adf``) vs the true first interactions, events matched by timestamp."""
    from gpsa.adf import read_all

    tracked = read_all(tracked_adf).values["data:tracked"]
    ts = np.asarray(events["timestamp"], np.int64)
    order = np.argsort(ts, kind="stable")
    t_ev = tracked.events.timestamps.astype(np.int64)
    pos = np.clip(np.searchsorted(ts[order], t_ev), 0, len(ts) - 1)
    decay_of_event = np.where(ts[order][pos] == t_ev, np.asarray(events["event"],
                                                                  np.int64)[order][pos], -1)
    g = tracked.gammas
    first = np.stack([g.x1, g.y1, g.z1], axis=1).astype(np.float64)
    decay = decay_of_event[g.event_index]
    p1, ev_index, _ = truth.first_points()
    true_decay = truth.columns["event"][truth.offsets[:-1]][ev_index]
    from gpsa.tracking.efficiency import first_found

    return first_found(p1, true_decay, first[decay >= 0], decay[decay >= 0], DISTANCE_MM)


def compare(run_output: Path, transport: Path) -> dict[str, Any]:
    """The comparison (module docstring) for a finished run whose outputs are in
    ``run_output``; also added to its ``global/gpsa-global.json`` as ``tracking_comparison``."""
    from gpsa.runtime.runner import write_json_atomic
    from gpsa.simulate.transport import read_transport
    from gpsa.tracking.efficiency import figures
    from gpsa.tracking.tracker import Tracker
    from gpsa.tracking.truthfile import from_transport
    from gpsa.tracking.truthtrack import track_truth

    path = run_output / "global" / "gpsa-global.json"
    summary = json.loads(path.read_text())
    tracking = summary["counters"].get("tracking", {})
    eff = tracking.get("efficiency", {})
    stage = _tracking_stage(summary)
    result = read_transport(transport)
    truth = from_transport(result)
    true = track_truth(truth, Tracker(_settings(stage)), distance_mm=DISTANCE_MM)
    rows = figures(true.spectra, true.lines_kev, true.emitted,
                   window_kev=float(stage.get("window_kev", 3.0)),
                   threshold_kev=float(stage.get("threshold_kev", 10.0)))
    tracked_adf = run_output / "global" / "tracked.adf"
    comparison = {
        "decays": int(result.attrs.get("n_decays", len(result.events["event"]))),
        "distance_mm": DISTANCE_MM,
        "psa": {"counters": {k: v for k, v in tracking.items() if k not in ("stage",
                                                                             "efficiency")},
                "figures": eff.get("figures", []),
                "first_found": psa_first_found(tracked_adf, truth, result.events)
                if tracked_adf.is_file() else None},
        "true": {"counters": {k: v for k, v in true.counters.as_dict().items()
                              if k in tracking}, "figures": [vars(r) for r in rows],
                 "first_found": true.first_found}}
    summary["tracking_comparison"] = comparison
    write_json_atomic(path, summary)
    return comparison


def table_rows(comparison: dict[str, Any]) -> list[list[str]]:
    """Rows ``spectrum, line, positions, peak, eff %, P/T %`` of the two tables (the sums
    differ too: true deposits vs PSA hit energies)."""
    return [[r["spectrum"], f"{r['line_kev']:g}", side, str(r["peak_counts"]),
             _pct(r["efficiency"]), _pct(r["peak_to_total"])]
            for side in ("true", "psa") for r in comparison[side]["figures"]]


def _pct(x: float | None) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{100 * x:.2f}"
