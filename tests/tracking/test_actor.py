"""The ``tracking`` actor from the plugin catalogue on BuiltEvents (lab and crystal frames,
merged events), and data:tracked through the ADF writer and reader."""

from __future__ import annotations

import io

import numpy as np
import pytest

from gpsa.adf import AdfWriter, read_all
from gpsa.adf.codecs.tracked import TrackedBlock
from gpsa.detector.transforms import LabTransform, euler_matrix
from gpsa.errors import ConfigError
from gpsa.globallevel.events import BuiltEvents
from gpsa.plugins.catalogue import get_catalogue
from gpsa.plugins.manager import reset_plugin_manager
from gpsa.runtime.actor import RunContext
from gpsa.tracking.events import track_built
from gpsa.tracking.toymc import N_TILES, generate
from gpsa.tracking.tracker import Tracker, TrackingSettings

from ._helpers import built_from_toy

INNER = 190.0


@pytest.fixture(scope="module")
def built() -> BuiltEvents:
    return built_from_toy(generate(600, [1173.2, 1332.5], seed=5, inner_mm=INNER,
                                   outer_mm=INNER + 90))


def run_actor(blocks: list[object], **settings: object) -> tuple[list[TrackedBlock], dict]:
    reset_plugin_manager()
    try:
        entry = get_catalogue().actors["tracking"]
        assert entry.kind == "global" and entry.plugin == "gpsa.actors.tracking"
        actor = entry.obj(**settings)
        actor.start(RunContext())
        out = [o for b in blocks for o in actor.process(b, "builder")]
        out += list(actor.flush())
        counters = actor.counters()
        actor.stop()
    finally:
        reset_plugin_manager()
    return out, counters


def test_actor_from_the_catalogue(built: BuiltEvents) -> None:
    parts = [built.take(slice(i, i + 128)) for i in range(0, len(built), 128)]
    out, counters = run_actor(parts, inner_radius_mm=INNER)
    tracked = TrackedBlock.concat(out)
    ref, _, ref_counts = track_built(built, Tracker(TrackingSettings(inner_radius_mm=INNER)))
    assert tracked.equals(ref)
    assert len(tracked) == len(built)
    assert counters["events_sent_to_tracking"] == len(built)
    assert counters["hits_sent_to_tracking"] == len(built.crystals.hits)
    assert counters["gammas_out_of_tracking"] == len(tracked.gammas) == \
        ref_counts["gammas_out_of_tracking"]
    assert counters["events_with_tracked_gammas"] == int((tracked.n_gammas > 0).sum())
    # what a gamma carries
    g = tracked.gammas
    single = g.n_interactions == 1
    assert np.all(np.isnan(g.x2[single])) and np.all(np.isfinite(g.x2[~single]))
    assert np.all(g.status[single] == 1) and np.all(g.status[~single] == 0)
    assert np.count_nonzero(np.abs(g.energy - 1332.5) < 1) > 0.4 * len(built)


def test_actor_transforms_crystal_positions(built: BuiltEvents) -> None:
    rng = np.random.default_rng(2)
    rot = euler_matrix(*rng.uniform(0, 360, (3, N_TILES)))
    tr = rng.uniform(-50, 50, (N_TILES, 3))
    lab = LabTransform(rot, tr)
    hits = built.crystals.hits
    ids = built.crystals.events.crystal_ids[hits.event_index].astype(np.int64)
    local = lab.to_crystal(ids, np.stack([hits.x, hits.y, hits.z], axis=1)).astype(np.float32)
    import dataclasses

    from gpsa.block import PsaBlock

    moved = PsaBlock(built.crystals.events, dataclasses.replace(
        hits, x=local[:, 0], y=local[:, 1], z=local[:, 2]))
    in_crystal = BuiltEvents(built.event_numbers, built.timestamps, built.offsets, moved)
    a, _, _ = track_built(built, Tracker(TrackingSettings(inner_radius_mm=INNER)))
    b, _, _ = track_built(in_crystal, Tracker(TrackingSettings(inner_radius_mm=INNER)), lab)
    assert np.array_equal(a.gammas.n_interactions, b.gammas.n_interactions)
    assert np.allclose(a.gammas.energy, b.gammas.energy)
    assert np.allclose(a.gammas.x1, b.gammas.x1, atol=1e-3)


def test_actor_settings_checked() -> None:
    reset_plugin_manager()
    try:
        cls = get_catalogue().actors["tracking"].obj
        with pytest.raises(ConfigError, match="rule"):
            cls(rule="widest")
        with pytest.raises(ConfigError, match="lab_transform"):
            cls(positions="crystal").check(RunContext())
    finally:
        reset_plugin_manager()


def test_tracked_adf_round_trip(built: BuiltEvents) -> None:
    tracked, _, _ = track_built(built, Tracker(TrackingSettings(inner_radius_mm=INNER)))
    buf = io.BytesIO()
    with AdfWriter(buf) as w:
        w.write(tracked)
    back = read_all(buf.getvalue()).values["data:tracked"]
    assert back.equals(tracked)
    assert len(back.gammas) == len(tracked.gammas) > 0


def test_cli_track_on_built_events(built: BuiltEvents, tmp_path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from gpsa.cli.main import main
    from gpsa.globallevel.frames import built_to_frames

    src, out = tmp_path / "events.adf", tmp_path / "tracked.adf"
    with AdfWriter(src) as w:
        w.write(built_to_frames(built))
    assert main(["track", str(src), "--lines", "1173.2,1332.5", "--emitted", "600",
                 "--inner-radius", str(INNER), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    ref, _, counts = track_built(built, Tracker(TrackingSettings(inner_radius_mm=INNER)))
    assert f"gammas out of tracking      {counts['gammas_out_of_tracking']}" in text
    assert read_all(out).values["data:tracked"].equals(ref)
    assert main(["track", str(src)]) == 2  # no --lines / --emitted
