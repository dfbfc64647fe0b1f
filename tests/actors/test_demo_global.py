"""``gpsa demo --global``: 60Co → transport → traces → local chain (PSA hits moved to the lab by
the transport's placement) → sorter → builder → tracking → data:tracked, with the counters and
the efficiency / P/T table in the printout and in the global summary. Small: coarse bases (as
in test_demo.py), 3 crystals, few decays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.cli.main import main

DECAYS = 12000
FOUR = ("events_sent_to_tracking", "hits_sent_to_tracking", "gammas_out_of_tracking",
        "events_with_tracked_gammas")


@pytest.fixture
def coarse_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpsa.runtime import demo

    for name, value in (("PSA_GRID_MM", 6.0), ("PSA_FIELD_GRID_MM", 3.0),
                        ("TRUTH_GRID_MM", 5.0), ("TRUTH_FIELD_GRID_MM", 2.5)):
        monkeypatch.setattr(demo, name, value)


def _lab_centroids(event: np.ndarray, crystal: np.ndarray, xyz: np.ndarray,
                   energy: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    keys = np.stack([event, crystal], axis=1).astype(np.int64)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    w = np.bincount(inv, energy)
    c = np.stack([np.bincount(inv, energy * xyz[:, k]) for k in range(3)], axis=1)
    ok = w > 0
    return {tuple(k): v for k, v in zip(uniq[ok].tolist(), c[ok] / w[ok, None], strict=True)}


def test_demo_global(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     coarse_demo: None) -> None:
    from gpsa.adf import read_all
    from gpsa.simulate.transport import read_transport

    out = tmp_path / "demo"
    assert main(["demo", "--global", "--out", str(out), "--crystals", "3", "--decays",
                 str(DECAYS), "--mode", "simple", "-q"]) == 0
    text = capsys.readouterr().out
    for line in ("events sent to tracking", "hits sent to tracking", "gammas out of tracking",
                 "events with tracked gammas", "Photopeak efficiency and P/T",
                 "first interaction found"):
        assert line in text
    folder = out / "global"
    summary = json.loads((folder / "out" / "global" / "gpsa-global.json").read_text())
    assert summary["status"] == "complete" and summary["complete"]
    tracking, builder = summary["counters"]["tracking"], summary["counters"]["builder"]
    assert tracking["events_sent_to_tracking"] == builder["events_out"] > 100
    assert tracking["gammas_out_of_tracking"] > 0.5 * tracking["events_sent_to_tracking"]
    eff = tracking["efficiency"]
    assert eff["emitted_per_line"] == DECAYS and eff["lines_kev"] == pytest.approx(
        [1173.2, 1332.5])
    assert {r["spectrum"] for r in eff["figures"]} == {"crystal sum", "event sum", "tracked"}

    # data:tracked written by the event writer: one tracked event per event sent
    tracked = read_all(folder / "out" / "global" / "tracked.adf").values["data:tracked"]
    assert len(tracked) == tracking["events_sent_to_tracking"]
    assert len(tracked.gammas) == tracking["gammas_out_of_tracking"]

    # PSA hits are in the lab frame of the transport: near the true lab points
    points = read_transport(folder / "transport.h5").points
    true = _lab_centroids(points["event"], points["crystal_id"],
                          np.stack([points[f"lab_{a}"] for a in "xyz"], axis=1),
                          points["energy"].astype(np.float64))
    dist = []
    for crystal in summary["inputs"]:
        psa = read_all(Path(crystal["path"])).psa
        h = psa.hits
        found = _lab_centroids(psa.events.event_numbers[h.event_index], h.crystal,
                               np.stack([h.x, h.y, h.z], axis=1).astype(np.float64),
                               h.energy.astype(np.float64))
        dist += [np.linalg.norm(v - true[k]) for k, v in found.items() if k in true]
    assert len(dist) > 100 and np.median(dist) < 8.0

    # the same decays tracked on true positions, beside the PSA run, in the summary
    comp = summary["tracking_comparison"]
    assert comp["decays"] == DECAYS
    assert comp["true"]["counters"].keys() == set(FOUR)
    assert comp["true"]["first_found"] > comp["psa"]["first_found"] > 0.1
    rows = {(r["spectrum"], r["line_kev"]): r for r in comp["true"]["figures"]}
    assert rows[("tracked", 1332.5)]["peak_counts"] > 0
