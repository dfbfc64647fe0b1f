"""Observed variables and their settings: the Observer's names and labels, a plugin's metrics
through its context, ``[[alarm]]`` tables checked before any data is read, metrics on vs off
giving byte-identical outputs, and the plain progress lines with rate and ETA."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from gpsa.cli.main import main
from gpsa.cli.progress import PlainProgress
from gpsa.monitor.observe import Observer
from gpsa.runtime.actor import RunContext

from .conftest import write_run


def test_observer_names_labels_and_redeclaration() -> None:
    obs = Observer("w3", process=False, gpu=False)
    c = obs.counter("gpsa_things_total", "things", crystal="00A", stage="psa")
    c.inc(2)
    assert obs.counter("gpsa_things_total", crystal="00A", stage="psa") is c
    obs.histogram("gpsa_thing_seconds", crystal="00A").observe(0.02)
    samples = {(n, tuple(sorted(lab.items()))): v for n, lab, v in obs.samples()}
    assert samples[("gpsa_things_total", (("crystal", "00A"), ("stage", "psa"),
                                          ("worker", "w3")))] == 2
    assert ("gpsa_thing_seconds_count", (("crystal", "00A"), ("stage", ""),
                                         ("worker", "w3"))) in samples
    assert not any(n.endswith("_created") for n, _ in samples)
    with pytest.raises(ValueError, match="is a counter"):
        obs.gauge("gpsa_things_total")
    with pytest.raises(ValueError, match="use gpsa_"):
        obs.counter("things_total")


def test_a_plugin_gets_metrics_through_its_context() -> None:
    obs = Observer("main", process=False, gpu=False)
    ctx = RunContext(crystal="01C", observer=obs)
    ctx.metrics.counter("gpsa_mlpsa_fallbacks_total", "fallbacks", stage="mlpsa").inc(5)
    ctx.metrics.gauge("gpsa_mlpsa_batch_events", stage="mlpsa").set(64)
    got = {(n, lab["crystal"], lab["stage"]): v for n, lab, v in obs.samples()}
    assert got[("gpsa_mlpsa_fallbacks_total", "01C", "mlpsa")] == 5
    assert got[("gpsa_mlpsa_batch_events", "01C", "mlpsa")] == 64
    RunContext().metrics.counter("gpsa_x_total").inc()  # outside a run: usable, unpublished


@pytest.mark.parametrize(("table", "message"), [
    ('metric = "rate"\nvalue = 1.0\nfor_second = 3', "alarm 1: unknown key 'for_second' "
     "(did you mean 'for_seconds'?)"),
    ('metric = "speed"', "alarm 1.metric: unknown metric 'speed'"),
    ('metric = "rate"\ncondition = "under"', "alarm 1.condition"),
    ('value = 3.0', "alarm 1: missing key 'metric'"),
])
def test_bad_alarm_tables_stop_before_reading(tmp_path: Path, basis_file: Path, table: str,
                                              message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, basis_file, alarms=f"\n[[alarm]]\n{table}\n")
    assert main(["run", str(conf), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    if "unknown key" in message:  # names the file and line
        assert re.search(r"run\.toml:\d+: ", err[0]), err
    assert not (tmp_path / "out").exists()


def test_metrics_on_and_off_write_identical_outputs(tmp_path: Path, basis_file: Path,
                                                    free_port: int) -> None:
    alarm = '\n[[alarm]]\nmetric = "queue_depth"\ncondition = "above"\nvalue = 100.0\n'
    off = write_run(tmp_path / "off", basis_file, crystals=("00A", "00B"), events=90)
    on = write_run(tmp_path / "on", basis_file, crystals=("00A", "00B"), events=90,
                   alarms=alarm, run=f"metrics_port = {free_port}\nmonitor_interval = 0.1")
    assert main(["run", str(off), "-q"]) == 0
    assert main(["run", str(on), "-q"]) == 0
    for crystal in ("00A", "00B"):
        a = (tmp_path / "off" / "out" / crystal / "psa.adf").read_bytes()
        b = (tmp_path / "on" / "out" / crystal / "psa.adf").read_bytes()
        assert a == b and len(a) > 0


def test_plain_progress_shows_rate_and_eta() -> None:
    out = io.StringIO()
    prog = PlainProgress(out, interval=0.0)
    for _ in range(5):
        prog.advance("00A", 20, 200)
        time.sleep(0.02)
    prog.finish("00A", "complete")
    lines = out.getvalue().splitlines()
    assert lines[0] == "00A: 20/200 events (10%)"  # the first block: no rate yet
    assert re.fullmatch(r"00A: 100/200 events \(50%\), [\d,]+ events/s, ETA \d+:\d\d", lines[4])
    assert re.fullmatch(r"00A: complete, 100 events in \d+\.\d s \([\d,]+ events/s\)", lines[5])
