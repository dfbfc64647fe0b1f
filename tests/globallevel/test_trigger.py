"""The soft trigger's decision: fold and energy-sum conditions on hand-made records with known
answers, independence of the cut into blocks, the fast path over 40 crystals of simulated
coincidences against a plain reference, and a plugin condition selected by name."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpsa.errors import ConfigError
from gpsa.globallevel.trigger import Decided, SoftTrigger, make_records
from gpsa.globallevel.trigger_conditions import BUILTIN_CONDITIONS, energy_sums
from gpsa.globallevel.trigger_io import FileSink, FileSource
from gpsa.globallevel.trigger_run import FastPath, run_inputs
from gpsa.globallevel.window import event_offsets, fold
from gpsa.plugins import hookimpl
from gpsa.plugins.catalogue import get_catalogue
from gpsa.plugins.manager import PluginError, create_plugin_manager, reset_plugin_manager
from gpsa.simulate.coincidences import CoincidenceConfig, simulate_coincidences

FOLD, ESUM = BUILTIN_CONDITIONS
# events with window 10, fixed rule: rows 0-2 | 3-4 | 5 | 6-8 | 9
TS = [0, 3, 8, 30, 31, 100, 200, 205, 209, 212]
CRYSTALS = [1, 2, 1, 5, 5, 7, 3, 4, 5, 6]
ENERGY = [100.0, 200.0, 300.0, 400.0, 50.0, 1000.0, 10.0, 20.0, 30.0, 40.0]


def records() -> Any:
    return make_records(TS, CRYSTALS, np.arange(len(TS)), ENERGY)


def decide(trigger: SoftTrigger, rec: Any, size: int) -> Decided:
    parts = [trigger.push(rec.take(slice(a, a + size))) for a in range(0, len(rec), size)]
    parts.append(trigger.flush())
    return Decided.concat([p for p in parts if p is not None])


def accepted_rows(d: Decided) -> list[int]:
    return sorted(d.event_numbers[d.accepted].tolist())


def test_fold_and_energy_sum_known_answers() -> None:
    ts = np.array(TS, np.uint64)
    offsets = event_offsets(ts, 10, "fixed")
    assert offsets.tolist() == [0, 3, 5, 6, 9, 10]
    assert fold(np.array(CRYSTALS, np.uint16), offsets).tolist() == [2, 1, 1, 3, 1]
    assert energy_sums(np.array(ENERGY, np.float32), offsets).tolist() == [600, 450, 1000, 60, 40]
    t = SoftTrigger([FOLD], {"min_fold": 2, "min_energy_kev": 0.0}, window=10)
    d = decide(t, records(), 4)
    assert accepted_rows(d) == [0, 1, 2, 6, 7, 8]
    c = t.counters
    assert (c.events_built, c.events_accepted, c.events_rejected) == (5, 2, 3)
    assert (c.crystal_events_accepted, c.crystal_events_rejected) == (6, 4)
    t = SoftTrigger([ESUM], {"min_fold": 0, "min_energy_kev": 500.0}, window=10)
    assert accepted_rows(decide(t, records(), 3)) == [0, 1, 2, 5]
    # both: fold >= 2 and sum >= 500 -> only the first event
    t = SoftTrigger([FOLD, ESUM], {"min_fold": 2, "min_energy_kev": 500.0}, window=10)
    assert accepted_rows(decide(t, records(), 10)) == [0, 1, 2]
    # sliding: 200, 205, 209, 212 chain into one event of fold 4
    t = SoftTrigger([FOLD], {"min_fold": 4, "min_energy_kev": 0.0}, window=10, rule="sliding")
    assert accepted_rows(decide(t, records(), 2)) == [6, 7, 8, 9]


def test_per_crystal_decisions_give_accepted_and_through() -> None:
    t = SoftTrigger([FOLD], {"min_fold": 2}, window=10)
    d = decide(t, records(), 10)
    per = d.per_crystal()
    assert per[1][0].tolist() == [0, 2] and per[1][1:] == (2, 2)
    assert per[5][0].tolist() == [8] and per[5][1:] == (8, 3)
    assert per[7][0].tolist() == [] and per[7][1:] == (5, 1)


@pytest.mark.parametrize("rule", ["fixed", "sliding"])
def test_block_size_independence(rule: str) -> None:
    rng = np.random.default_rng(5)
    n = 3000
    ts = np.sort(rng.integers(0, 200_000, n)).astype(np.uint64)
    rec = make_records(ts, rng.integers(0, 40, n), np.arange(n), rng.uniform(0, 1500, n))
    results = []
    for size in (1, 7, 256, n):
        t = SoftTrigger([FOLD, ESUM], {"min_fold": 2, "min_energy_kev": 800.0}, window=10,
                        rule=rule)  # type: ignore[arg-type]
        d = decide(t, rec, size)
        assert len(d) == n
        order = np.argsort(d.event_numbers)
        results.append(d.accepted[order])
        assert t.counters.events_accepted > 0 and t.counters.events_rejected > 0
    for r in results[1:]:
        assert np.array_equal(r, results[0])


def test_out_of_order_records_are_accepted_and_counted() -> None:
    t = SoftTrigger([FOLD], {"min_fold": 5}, window=10)
    assert t.push(make_records([100, 101], [0, 1], [0, 0], [1, 1])) is None
    d = t.push(make_records([50, 300], [2, 2], [1, 2], [1, 1]))  # 50 is behind 101
    assert d is not None and t.counters.crystal_events_out_of_order == 1
    assert accepted_rows(d) == [1]  # the late record alone, accepted
    assert sorted(d.event_numbers[~d.accepted].tolist()) == [0, 0]


def test_fast_path_over_40_crystals_matches_reference(tmp_path: Path) -> None:
    sim = simulate_coincidences(3000, CoincidenceConfig(rate_hz=200_000, block_size=64), seed=3)
    names = [f"c{i:02d}" for i in range(40)]
    settings = {"min_fold": 3, "min_energy_kev": 0.0}
    reports = []
    for size in (64, 1000):
        folder = tmp_path / f"b{size}"
        trig = SoftTrigger([FOLD], settings, window=10)
        fast = FastPath(trig, FileSink(folder, names, settings), names, emit_rows=500)
        inputs = {}
        for i, name in enumerate(names):
            blocks = sim.crystals.get(i, [])
            ev = [b.events for b in blocks]
            recs = [make_records(e.timestamps, e.crystal_ids, e.event_numbers, e.e0) for e in ev]
            whole = [r for r in recs if len(r)]
            cat = type(whole[0]).concat(whole) if whole else None
            inputs[name] = iter([] if cat is None else
                                [cat.take(slice(a, a + size)) for a in range(0, len(cat), size)])
        reports.append(run_inputs(fast, inputs))
        assert fast.report()["sorter"]["late_flagged"] == 0
    # reference: every crystal event sorted by (time, crystal), fixed window, fold >= 3
    ev = sim.events.events
    order = np.lexsort((ev.crystal_ids, ev.timestamps))
    ts, cid, num = ev.timestamps[order], ev.crystal_ids[order], ev.event_numbers[order]
    off = event_offsets(ts, 10, "fixed")
    keep = np.repeat(fold(cid, off) >= 3, np.diff(off))
    for i, name in enumerate(names):
        want = np.sort(num[keep & (cid == i)])
        for size in (64, 1000):
            got = FileSource(tmp_path / f"b{size}" / f"{name}.npz", settings).accepted
            assert np.array_equal(got, want), (name, size)
    t = reports[0]["trigger"]
    assert reports[1]["trigger"] == t
    assert t["crystal_events_in"] == len(sim.events) == reports[0]["records"]
    assert t["crystal_events_accepted"] == int(keep.sum()) > 0
    assert t["crystal_events_in"] == t["crystal_events_accepted"] + t["crystal_events_rejected"]


def _has_crystal_zero(timestamps: np.ndarray, crystals: np.ndarray, energies: np.ndarray,
                      offsets: np.ndarray) -> np.ndarray:
    """Events with a crystal event of crystal 0."""
    hits = np.concatenate([[0], np.cumsum(crystals == 0)])
    return hits[offsets[1:]] > hits[offsets[:-1]]


def _plugin(**hooks: Any) -> types.ModuleType:
    mod = types.ModuleType("trigger_plugin")
    for name, func in hooks.items():
        setattr(mod, name, hookimpl(func))
    return mod


def test_plugin_condition_is_selectable_by_name(tmp_path: Path) -> None:
    from gpsa.actors.trigger import TriggerActor
    from gpsa.runtime.actor import RunContext

    plugin = _plugin(gpsa_register_trigger_conditions=lambda register: register(
        "has-crystal-zero", _has_crystal_zero))
    reset_plugin_manager(create_plugin_manager(extra=[plugin], autoload=False))
    try:
        entry = get_catalogue().trigger_conditions["has-crystal-zero"]
        assert entry.plugin == "trigger_plugin" and entry.kind == "trigger-condition"
        actor = TriggerActor(conditions=["has-crystal-zero"], inputs=["a", "b"])
        actor.start(RunContext(output_dir=tmp_path))
        # events [0, 2] and [90] hold crystal 0, [50, 52] does not
        actor.process(make_records([0, 90], [0, 0], [0, 1], [1, 1]), "a")
        actor.process(make_records([2, 50], [1, 1], [0, 1], [1, 1]), "b")
        actor.process(make_records([52], [2], [0], [1]), "c")
        for name in ("a", "b", "c"):
            actor.end_input(name)
        actor.flush()
        a, b, c = (FileSource(tmp_path / "trigger" / f"{n}.npz", actor.trigger_settings())
                   for n in ("a", "b", "c"))
        assert (a.accepted.tolist(), a.through) == ([0, 1], 1)
        assert (b.accepted.tolist(), b.through) == ([0], 1)
        assert (c.accepted.tolist(), c.through) == ([], 0)
        assert actor.counters()["events_accepted"] == 2
        assert actor.counters()["events_rejected"] == 1
        with pytest.raises(ConfigError, match="unknown trigger condition 'fold2'.*fold"):
            TriggerActor(conditions=["fold2"]).check(RunContext())
    finally:
        reset_plugin_manager()


def test_bad_condition_registrations_name_the_plugin() -> None:
    from gpsa.plugins.catalogue import build_catalogue
    from gpsa.plugins.manager import BUILTIN_PLUGINS

    twice = _plugin(gpsa_register_trigger_conditions=lambda register: register(
        "fold", _has_crystal_zero))
    with pytest.raises(PluginError, match="'fold' is already registered by plugin "
                       "'gpsa.actors.trigger'"):
        build_catalogue(create_plugin_manager(builtins=BUILTIN_PLUGINS, extra=[twice],
                                              autoload=False)).trigger_conditions.clear()
    bad = _plugin(gpsa_register_trigger_conditions=lambda register: register(
        "x-cond", _has_crystal_zero, params=("k",)))
    with pytest.raises(PluginError, match="trigger_plugin.*unknown parameter"):
        build_catalogue(create_plugin_manager(builtins=(), extra=[bad], autoload=False))
