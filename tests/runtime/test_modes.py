"""Run modes with the toy actors: simple and parallel (spawned processes rebuild the plugin set),
failures reported per crystal, Ctrl-C handling, provenance."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from gpsa.config import resolve_config
from gpsa.runtime.modes import run_parallel, run_simple
from gpsa.runtime.signals import exit_code_for, graceful_stop

from .toy import read_lines

pytestmark = pytest.mark.usefixtures("toy_plugins")

RUN = """\
[run]
crystals = ["00A", "00B", "01A"]

[[stage]]
actor = "toy-source"
n_blocks = 6

[[stage]]
actor = "toy-square"
workers = 2

[[stage]]
actor = "toy-sink"

[crystal.00B.toy-square]
fail_on_event = 12
"""


class Recorder:
    def __init__(self) -> None:
        self.events: dict[str, int] = {}
        self.finished: dict[str, str] = {}
        self.lock = threading.Lock()

    def advance(self, crystal: str, events: int, total: int | None) -> None:
        with self.lock:
            self.events[crystal] = self.events.get(crystal, 0) + events
            assert total == 30

    def finish(self, crystal: str, status: str) -> None:
        self.finished[crystal] = status


@pytest.mark.parametrize("mode", ["simple", "parallel"])
def test_modes(tmp_path: Path, mode: str) -> None:
    conf = tmp_path / "run.toml"
    conf.write_text(RUN)
    cfg = resolve_config(conf)
    rec = Recorder()
    stop = threading.Event()
    if mode == "simple":
        report = run_simple(cfg, stop=stop, progress=rec)
    else:
        report = run_parallel(cfg, jobs=2, stop=stop, progress=rec)
    status = {o.crystal: o.status for o in report.outcomes}
    assert status == {"00A": "complete", "00B": "failed", "01A": "complete"}
    assert rec.finished == status and rec.events["00A"] == 30
    failed = report.outcomes[1]
    assert "crystal 00B: actor 'toy-square'" in (failed.error or "") and report.exit_code == 1
    assert [e for e, _ in read_lines(tmp_path / "out" / "01A" / "events.txt")] == list(range(30))
    prov = json.loads((tmp_path / "out" / "00B" / "gpsa-run.json").read_text())
    assert prov["status"] == "failed" and "toy-square" in prov["error"]
    done = json.loads((tmp_path / "out" / "00A" / "gpsa-run.json").read_text())
    assert done["status"] == "complete" and done["result"]["events_out"] == 30


def test_stop_before_start_skips_crystals(tmp_path: Path) -> None:
    conf = tmp_path / "run.toml"
    conf.write_text(RUN)
    stop = threading.Event()
    stop.set()
    report = run_simple(resolve_config(conf), stop=stop)
    assert {o.status for o in report.outcomes} == {"not-run"}
    assert not (tmp_path / "out").exists()


def test_graceful_stop_signal_handler() -> None:
    stop = threading.Event()
    with graceful_stop(stop) as received:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C aborts at once
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(500):  # the handler runs between bytecodes of the main thread
                threading.Event().wait(0.01)
    assert received[0] == signal.SIGTERM and exit_code_for(received) == 143
    assert exit_code_for([]) == 0 and exit_code_for([signal.SIGINT]) == 130
