"""A global run through ``gpsa run``: crystal chains (adf-reader of data:psa → adf-writer) on
simulated multi-crystal data with known coincidences, then the ``[[global]]`` chain (time sorter
→ event builder → ancillary simulator → event merger → event writer). Every isolated true
coincidence is built; the output decodes to the events an in-memory builder and merger make of
the same data; the summary JSON and the printed counters; parallel mode and batch mode's final
step give the same file; a failed crystal flushes the step; bad [[global]] tables are one line."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpsa.adf import AdfWriter, read_all
from gpsa.block import PsaBlock
from gpsa.cli.main import main
from gpsa.config.resolve import resolve_config
from gpsa.errors import ConfigError
from gpsa.globallevel.builder import EventBuilder
from gpsa.globallevel.events import MergedEvents
from gpsa.globallevel.frames import built_from_frames, merged_from_frames
from gpsa.globallevel.merger import EventMerger
from gpsa.globallevel.rows import PSA_ROWS
from gpsa.plugins import Param, hookimpl
from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager
from gpsa.runtime.actor import GlobalActor, RunContext
from gpsa.simulate.coincidences import (
    NO_EVENT,
    AncillaryConfig,
    CoincidenceConfig,
    CoincidenceSim,
    ancillary_frames,
    simulate_coincidences,
)

N_EVENTS, RATE, SEED = 4000, 20_000.0, 5
CRYSTALS = ("00A", "00B", "01A", "01B", "02A")
WINDOW, JITTER, DELAY = 10, 4, 50
ANC = {"frame_rate_hz": 10_000.0, "coincidence": 0.8}

GLOBAL = f"""
[[global]]
actor = "time-sorter"

[[global]]
actor = "event-builder"
window = {WINDOW}

[[global]]
actor = "ancillary-simulator"
events = {N_EVENTS}
agata_rate_hz = {RATE}
seed = {SEED}
frame_rate_hz = {ANC["frame_rate_hz"]}
coincidence = {ANC["coincidence"]}
delay_ticks = {DELAY}

[[global]]
actor = "event-merger"
window = {WINDOW}
offset = {DELAY}
min_fold = 1

[[global]]
actor = "event-writer"
"""


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture(scope="module")
def sim() -> CoincidenceSim:
    return simulate_coincidences(N_EVENTS, CoincidenceConfig(
        n_crystals=len(CRYSTALS), rate_hz=RATE, jitter_ticks=JITTER, block_size=500), SEED)


@pytest.fixture(scope="module")
def data(sim: CoincidenceSim, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data:psa ADF file per crystal (crystal id i is CRYSTALS[i])."""
    folder = tmp_path_factory.mktemp("data")
    for i, name in enumerate(CRYSTALS):
        with AdfWriter(folder / f"{name}.adf") as w:
            for block in sim.crystals[i]:
                w.write(block)
    return folder


def write_run(folder: Path, data: Path, global_tables: str = GLOBAL, crystal_chain: str = "",
              ) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    chain = crystal_chain or f"""
        [[stage]]
        actor = "adf-reader"
        path = "{data}/{{crystal}}.adf"
        frames = "psa"
        frames_per_block = 700

        [[stage]]
        actor = "adf-writer"
        """
    conf = folder / "run.toml"
    conf.write_text(textwrap.dedent(f"""\
        [run]
        crystals = {list(CRYSTALS)!r}
        output = "out"
        """) + textwrap.dedent(chain) + global_tables)
    return conf


@pytest.fixture(scope="module")
def simple_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``gpsa run`` in simple mode: its output folder and printed summary."""
    folder = tmp_path_factory.mktemp("simple")
    conf = write_run(folder, data)
    capture = folder / "stdout.txt"
    import contextlib

    reset_plugin_manager()
    with capture.open("w") as fh, contextlib.redirect_stdout(fh):
        code = main(["run", str(conf), "-q"])
    reset_plugin_manager()
    return {"code": code, "out": folder / "out", "printed": capture.read_text()}


def reference(sim: CoincidenceSim) -> tuple[MergedEvents, EventBuilder, EventMerger]:
    """The same events made in memory: crystal events in (timestamp, crystal id) order (the
    sorter's order), the builder, the ancillary simulator's frames, the merger."""
    ev = sim.events.events
    block = PSA_ROWS.take(sim.events, np.lexsort((ev.crystal_ids, ev.timestamps)))
    builder = EventBuilder(WINDOW, "fixed", 1)
    built = [builder.push(block), builder.flush()]
    frames = ancillary_frames(sim.times, AncillaryConfig.from_rate(
        ANC["frame_rate_hz"], ANC["coincidence"], RATE, delay_ticks=DELAY, jitter_ticks=2,
        channels=4), SEED)
    merger = EventMerger(WINDOW, DELAY, 1)
    out = [merger.push(b) for b in built if b is not None]
    out += [merger.push(frames), merger.flush()]
    return MergedEvents.concat([o for o in out if o is not None]), builder, merger


def read_events(out: Path) -> MergedEvents:
    return merged_from_frames(read_all(out / "global" / "events.adf").values["event:data"])


def summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "global" / "gpsa-global.json").read_text())


def test_every_isolated_true_coincidence_is_built(sim: CoincidenceSim,
                                                  simple_run: dict[str, Any]) -> None:
    assert simple_run["code"] == 0
    merged = read_events(simple_run["out"])
    agata = merged.agata
    true_id = agata.crystals.events.event_numbers.astype(np.int64)
    built_of_row = np.repeat(np.arange(len(agata)), agata.sizes)
    gaps = np.diff(sim.times.astype(np.int64))
    far = WINDOW + JITTER
    isolated = np.flatnonzero(np.concatenate([[True], gaps > far])
                              & np.concatenate([gaps > far, [True]]))
    # an isolated true event is one built event holding exactly its crystal events
    pairs = np.unique(np.stack([true_id, built_of_row]), axis=1)
    events_per_true = np.bincount(pairs[0], minlength=N_EVENTS)
    trues_per_built = np.bincount(pairs[1], minlength=len(agata))
    home = np.full(N_EVENTS, -1)
    home[pairs[0]] = pairs[1]
    exact = ((events_per_true[isolated] == 1) & (trues_per_built[home[isolated]] == 1)
             & (agata.sizes[home[isolated]] == sim.multiplicity[isolated]))
    assert isolated.size == 3976 and int(exact.sum()) == isolated.size
    assert len(agata.crystals) == len(sim.events) == 9602  # every crystal event, once
    # and every coincident ancillary frame of an isolated true event joined that event
    anc_event = np.repeat(np.arange(len(merged)), np.diff(merged.ancillary_offsets))
    anc_true = merged.ancillary.event_numbers.astype(np.int64)
    known = anc_true != NO_EVENT
    mine = known & np.isin(anc_true, isolated)
    joined = merged.has_agata[anc_event[mine]] & (
        merged.agata_offsets[anc_event[mine]] == home[anc_true[mine]])
    assert int(known.sum()) == 1650 and int(mine.sum()) == 1642 and bool(joined.all())


def test_output_decodes_to_the_in_memory_events(sim: CoincidenceSim,
                                                simple_run: dict[str, Any]) -> None:
    merged = read_events(simple_run["out"])
    ref, builder, merger = reference(sim)
    assert merged.equals(ref)
    doc = summary(simple_run["out"])
    assert doc["status"] == "complete" and doc["complete"] and not doc["flushed"]
    c = doc["counters"]
    per_crystal = {name: len(PsaBlock.concat(sim.crystals[i])) for i, name in
                   enumerate(CRYSTALS)}
    assert c["sorter"]["frames_in_per_crystal"] == per_crystal
    assert set(c["sorter"]["late_per_crystal"].values()) == {0}
    assert set(c["sorter"]["out_of_order_per_crystal"].values()) == {0}
    b = builder.counters.as_dict()
    assert c["builder"]["events_by_fold"] == {k.rsplit("_", 1)[1]: v for k, v in b.items()
                                              if k.startswith("events_fold_")}
    assert c["builder"]["events_built"] == b["events_built"] == 3994
    m = merger.counters.as_dict()
    assert {k: c["merger"][k] for k in ("events_merged", "events_agata_only",
                                        "events_ancillary_only", "events_out")} == \
        {k: m[k] for k in ("events_merged", "events_agata_only", "events_ancillary_only",
                           "events_out")}
    assert (m["events_merged"], m["events_agata_only"], m["events_ancillary_only"]) == (
        1650, 2344, 392)
    stages = {s["label"]: s for s in doc["stages"]}
    assert stages["ancillary-simulator"]["events_out"] == m["ancillary_frames_in"]
    assert stages["event-writer"]["counters"] == {"frames_event:data": len(ref)}
    assert doc["outputs"] == [{"path": str(simple_run["out"] / "global" / "events.adf"),
                               "state": "complete"}]


def test_counters_are_printed(simple_run: dict[str, Any]) -> None:
    text = simple_run["printed"]
    assert "# Global inputs (time sorter)" in text and "# Events built by fold" in text
    assert re.search(r"^00B\tcomplete\t\d+\t0\t0\t0\t0$", text, re.M)
    assert "event-builder: 3,994 events built, 0 rejected by MinFold, 3,994 passed on" in text
    assert ("event-merger: 1,650 merged, 2,344 AGATA only, 392 ancillary only, 0 rejected by "
            "MinFold, 4,386 passed on") in text
    assert "global step complete (every crystal)" in text


def test_parallel_mode_gives_the_same_output(data: Path, tmp_path: Path,
                                             simple_run: dict[str, Any]) -> None:
    conf = write_run(tmp_path, data)
    assert main(["run", str(conf), "--mode", "parallel", "-j", "2", "-q", "--json"]) == 0
    out = tmp_path / "out"
    same = (out / "global" / "events.adf").read_bytes()
    assert same == (simple_run["out"] / "global" / "events.adf").read_bytes()
    assert summary(out)["counters"] == summary(simple_run["out"])["counters"]


def test_failed_crystal_flushes_the_global_step(data: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "data"
    shutil.copytree(data, bad)
    raw = (bad / "01A.adf").read_bytes()
    (bad / "01A.adf").write_bytes(raw[:len(raw) // 2 + 7])  # a truncated frame mid-file
    conf = write_run(tmp_path, bad)
    assert main(["run", str(conf), "-q"]) == 1
    captured = capsys.readouterr()
    assert "global step complete (flushed without 01A)" in captured.out
    assert re.search(r"^01A\tmissing \(crystal failed\)\t-", captured.out, re.M)
    assert "crystal 01A" in captured.err and "truncated frame" in captured.err
    doc = summary(tmp_path / "out")
    assert doc["status"] == "complete" and doc["flushed"] and doc["missing"] == ["01A"]
    assert not doc["complete"]
    assert "01A" not in doc["counters"]["sorter"]["frames_in_per_crystal"]
    merged = read_events(tmp_path / "out")
    assert not np.any(merged.agata.crystals.events.crystal_ids == CRYSTALS.index("01A"))
    assert len(merged.agata) > 0


def test_unknown_key_in_a_global_table_is_one_line(data: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, data, GLOBAL.replace("window = 10\n", "windw = 10\n", 1))
    assert main(["run", str(conf)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = next(i + 1 for i, t in enumerate(conf.read_text().splitlines()) if "windw" in t)
    assert err == [f"gpsa: error: {conf}:{line}: global stage 'event-builder': unknown key "
                   "'windw' (did you mean 'window'?)"]
    assert not (tmp_path / "out").exists()


W = "[[global]]\nactor = "
SHAPES = [
    (f'{W}"ancillary-simulator"\n{W}"event-merger"\n{W}"event-writer"\n',
     "global stage 'ancillary-simulator': the first [[global]] stage must be a global actor "
     "(e.g. the time-sorter), got a producer"),
    (f'{W}"time-sorter"\n{W}"event-builder"\n',
     "global stage 'event-builder': the last [[global]] stage must be a consumer, got a global"),
    (f'{W}"time-sorter"\n{W}"ancillary-simulator"\n{W}"event-writer"\n',
     "global stage 'ancillary-simulator': a producer feeds the next global actor, and none "
     "follows it"),
    (f'{W}"time-sorter"\n{W}"event-writer"\n{W}"event-builder"\n{W}"event-writer"\n',
     "global stage 'event-builder': only consumers may follow a consumer"),
    (f'{W}"time-sorter"\n{W}"event-builder"\n{W}"event-builder"\n{W}"event-writer"\n',
     "global stage name 'event-builder' used twice"),
    (f'{W}"time-sorter"\nworkers = 2\n{W}"event-writer"\n',
     "global stage 'time-sorter': unknown key 'workers'"),
    (f'{W}"time-sortr"\n{W}"event-writer"\n', "unknown actor 'time-sortr'"),
]


@pytest.mark.parametrize(("tables", "message"), SHAPES)
def test_bad_global_chains_are_refused(data: Path, tmp_path: Path, tables: str,
                                       message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(write_run(tmp_path, data, tables))


def test_crystal_chains_must_write_data_psa(data: Path, tmp_path: Path) -> None:
    no_file = f"""
        [[stage]]
        actor = "adf-reader"
        path = "{data}/{{crystal}}.adf"
        frames = "psa"

        [[stage]]
        actor = "summary"
        """
    with pytest.raises(ConfigError, match="crystal 00A: the global chain reads each crystal's "
                       "data:psa file, but this chain writes none"):
        resolve_config(write_run(tmp_path, data, crystal_chain=no_file))
    traces = no_file.replace('frames = "psa"', 'frames = "crystal"').replace(
        '"summary"', '"adf-writer"')
    with pytest.raises(ConfigError, match="writes the traces of 'adf-reader', not data:psa"):
        resolve_config(write_run(tmp_path, data, crystal_chain=traces))


def test_documented_example_resolves(data: Path, tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "global-level.md").read_text()
    section = doc.split("## A global run", 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert example is not None
    (tmp_path / "data").mkdir()
    for name in ("00A", "00B", "00C"):
        shutil.copy(data / f"{CRYSTALS[0]}.adf", tmp_path / "data" / f"{name}.adf")
    (tmp_path / "run.toml").write_text(example.group(1))
    cfg = resolve_config(tmp_path / "run.toml")
    assert cfg.global_chain is not None
    assert [st.actor for st in cfg.global_chain.stages] == [
        "time-sorter", "event-builder", "ancillary-simulator", "event-merger", "event-writer"]
    assert cfg.global_chain.output_dir == tmp_path.resolve() / "out" / "global"
    assert cfg.global_chain.inputs["00B"] == tmp_path.resolve() / "out" / "00B" / "psa.adf"


def test_batch_final_step_runs_the_global_chain(data: Path, tmp_path: Path,
                                                simple_run: dict[str, Any]) -> None:
    from runtime.conftest import RedisHolder

    conf = write_run(tmp_path, data)
    redis = RedisHolder()
    try:
        assert main(["batch", "init", str(conf), "--redis", redis.url, "--name", "g"]) == 0
        assert main(["batch", "work", "--redis", redis.url, "--run", "g", "-q"]) == 0
    finally:
        redis.close()
    out = tmp_path / "out"
    record = json.loads((out / "run-complete.json").read_text())
    glob = record["global"]
    assert glob["status"] == "complete" and not glob["flushed"] and glob["missing"] == []
    assert glob["summary"] == str(out / "global" / "gpsa-global.json")
    assert glob["counters"] == summary(simple_run["out"])["counters"]
    assert (out / "global" / "events.adf").read_bytes() == (
        simple_run["out"] / "global" / "events.adf").read_bytes()


class EnergyGate(GlobalActor):
    """An in-test global actor with decision counters (like a soft trigger's)."""

    name = "test-energy-gate"
    min_kev = Param(float, 1000.0, "crystal events below this energy are rejected")

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.n = {"crystal_events_accepted": 0, "crystal_events_rejected": 0}

    def process(self, block: Any, source: str = "") -> list[Any]:
        keep = block.events.e0 >= self.min_kev
        self.n["crystal_events_accepted"] += int(keep.sum())
        self.n["crystal_events_rejected"] += int((~keep).sum())
        return [block.take_events(keep)] if keep.any() else []

    def counters(self) -> dict[str, int]:
        return dict(self.n)


class GatePlugin:
    @hookimpl
    def gpsa_register_actors(self, register: Any) -> None:
        register(EnergyGate)


def test_any_actor_counters_are_collected(sim: CoincidenceSim, data: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    reset_plugin_manager(create_plugin_manager(extra=[GatePlugin()], autoload=False))
    tables = ('[[global]]\nactor = "time-sorter"\n[[global]]\nactor = "test-energy-gate"\n'
              '[[global]]\nactor = "event-builder"\n[[global]]\nactor = "event-writer"\n')
    assert main(["run", str(write_run(tmp_path, data, tables)), "-q"]) == 0
    accepted = int((sim.events.events.e0 >= 1000.0).sum())
    rejected = len(sim.events) - accepted
    text = capsys.readouterr().out
    assert f"trigger test-energy-gate.crystal_events_accepted: {accepted:,}" in text
    assert f"trigger test-energy-gate.crystal_events_rejected: {rejected:,}" in text
    doc = summary(tmp_path / "out")
    assert doc["counters"]["trigger"] == {
        "test-energy-gate.crystal_events_accepted": accepted,
        "test-energy-gate.crystal_events_rejected": rejected}
    assert doc["counters"]["builder"]["crystal_events_in"] == accepted
    built = built_from_frames(read_all(tmp_path / "out" / "global" / "events.adf")
                              .values["event:data:psa"])
    assert len(built.crystals) == accepted and np.all(built.crystals.events.e0 >= 1000.0)
