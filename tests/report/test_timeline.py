"""Throughput and queue depth over time: a run with a Central Memory (a real redis-server)
publishes monitor snapshots; ``gpsa report --redis`` reads the history and plots it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from gpsa.central.connection import connect
from gpsa.central.server import LocalRedis
from gpsa.cli.main import main
from gpsa.monitor.publish import read_history
from gpsa.report.throughput import rates, series

from .conftest import CRYSTALS, EVENTS, run_json, write_run


def test_report_plots_the_monitor_history(tmp_path: Path, basis_file: Path,
                                          redis_server: LocalRedis,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, basis_file, run=f'redis = "{redis_server.url}"\n'
                     'monitor_interval = 0.1\nrun_name = "report-t1"')
    run_json(conf)
    capsys.readouterr()
    assert main(["report", str(tmp_path / "out"), "--redis", redis_server.url,
                 "--run-name", "report-t1", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    client = connect(redis_server.url)
    snaps = read_history(client, "report-t1", count=10_000)
    client.close()
    assert len(snaps) >= 2
    assert got["summary"]["monitor snapshots"] == len(snaps)
    timeline = Path(got["page"]).parent / "timeline.png"
    assert str(timeline) in got["figures"]
    assert float(imread(timeline)[..., :3].std()) > 0.02
    assert not any("over time" in n for n in got["notes"])
    # the plotted series: the last snapshot of each crystal has every event through the psa
    events = series(snaps, "events")
    for crystal in CRYSTALS:
        assert events[crystal, "psa"][-1, 1] == EVENTS
        assert np.all(np.diff(events[crystal, "psa"][:, 1]) >= 0)
    assert any(float(v[:, 1].max()) > 0 for v in rates(events).values())
