"""The global chain's counters as AGATA prints them, gathered from the stages' own counters.

Every global stage's ``counters()`` (and ``report()`` when it has one) is kept as it is in the
summary JSON; :func:`agata_counters` picks out the numbers an AGATA run prints, by the shape
of the counters, so any actor that reports the same names is read the same way:

* ``sorter`` — a stage whose ``report()`` holds per-input dicts (``frames_in``, ``late``,
  ``out_of_order``, ``gaps``, ``wraps``): frames per crystal into the sorter, late and
  out-of-order frames per crystal, and frames emitted;
* ``builder`` — a stage with ``events_fold_K`` counters (or ``events_built`` and
  ``events_rejected_min_fold``): events built by fold, rejected by MinFold, passed on;
* ``merger`` — a stage with ``events_merged``: merged, AGATA-only and ancillary-only events,
  rejected by MinFold, passed on;
* ``tracking`` — a stage with ``events_sent_to_tracking``: AGATA's four tracking counters
  and, when its ``report()`` has one, the ``efficiency`` table (photopeak efficiency and P/T
  of the source lines before and after tracking, :mod:`gpsa.tracking.tally`);
* ``trigger`` — every counter of any stage whose name says ``accepted`` or ``rejected`` (not
  the MinFold ones, nor a tracking stage's), e.g. a soft trigger's ``events_accepted``, keyed
  ``STAGE.COUNTER``.

The first stage of each shape is taken; all the others stay in the per-stage counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpsa.runtime.global_chain import StageStats

SORTER_PER_INPUT = ("frames_in", "late", "out_of_order", "gaps", "wraps")
MERGER_KEYS = ("events_merged", "events_agata_only", "events_ancillary_only",
               "events_rejected_min_fold", "events_out")
_FOLD = "events_fold_"
TRACKING_KEYS = ("events_sent_to_tracking", "hits_sent_to_tracking", "gammas_out_of_tracking",
                 "events_with_tracked_gammas")


def _sorter(st: StageStats) -> dict[str, Any] | None:
    rep = st.report or {}
    if not all(isinstance(rep.get(k), dict) for k in SORTER_PER_INPUT):
        return None
    out: dict[str, Any] = {"stage": st.label}
    out.update({f"{k}_per_crystal": dict(rep[k]) for k in SORTER_PER_INPUT})
    out["emitted"] = rep.get("emitted")
    out["late_by_crystal_id"] = rep.get("late_by_crystal", {})
    return out


def _builder(st: StageStats) -> dict[str, Any] | None:
    c = st.counters
    folds = {int(k[len(_FOLD):]): v for k, v in c.items()
             if k.startswith(_FOLD) and k[len(_FOLD):].isdigit()}
    if not folds and not ("events_built" in c and "events_rejected_min_fold" in c):
        return None
    return {"stage": st.label, "events_built": c.get("events_built", sum(folds.values())),
            "events_by_fold": {str(k): folds[k] for k in sorted(folds)},
            "events_rejected_min_fold": c.get("events_rejected_min_fold", 0),
            "events_out": c.get("events_out", st.events_out),
            "crystal_events_in": c.get("crystal_events_in", st.events_in),
            "crystal_events_out_of_order": c.get("crystal_events_out_of_order", 0)}


def _merger(st: StageStats) -> dict[str, Any] | None:
    c = st.counters
    if "events_merged" not in c:
        return None
    return {"stage": st.label, **{k: c.get(k, 0) for k in MERGER_KEYS},
            "late_agata_events": c.get("late_agata_events", 0),
            "late_ancillary_frames": c.get("late_ancillary_frames", 0)}


def _tracking(st: StageStats) -> dict[str, Any] | None:
    c = st.counters
    if TRACKING_KEYS[0] not in c:
        return None
    out: dict[str, Any] = {"stage": st.label, **{k: c.get(k, 0) for k in TRACKING_KEYS}}
    efficiency = (st.report or {}).get("efficiency")
    if efficiency is not None:
        out["efficiency"] = efficiency
    return out


def _is_decision(key: str) -> bool:
    return ("accepted" in key or "rejected" in key) and "min_fold" not in key


def agata_counters(stages: Sequence[StageStats]) -> dict[str, Any]:
    """The AGATA-style summary of a global chain's stages (see the module docstring)."""
    out: dict[str, Any] = {}
    for name, pick in (("sorter", _sorter), ("builder", _builder), ("merger", _merger),
                       ("tracking", _tracking)):
        found = next((d for d in map(pick, stages) if d is not None), None)
        if found is not None:
            out[name] = found
    trigger = {f"{st.label}.{k}": v for st in stages if _tracking(st) is None
               for k, v in st.counters.items() if _is_decision(k)}
    if trigger:
        out["trigger"] = trigger
    return out
