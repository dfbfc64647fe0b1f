"""Ctrl-C in the middle of a real run: a subprocess running ``gpsa run`` receives SIGINT, stops
reading, finishes and writes what it read, and exits 130 with a valid output file that is marked
incomplete: it keeps its ``.partial`` name and has no meta:eof frame."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import write_run


@pytest.mark.parametrize("mode", ["simple", "parallel"])
def test_sigint_mid_run(tmp_path: Path, basis_file: Path, mode: str) -> None:
    from gpsa.adf import read_all

    # 100 events/s in blocks of 10: the run would last ~60 s; it is stopped after ~2 blocks
    conf = write_run(tmp_path, basis_file, crystals=("00A",), events=6000, block_size=10,
                     rate_hz=100.0, workers=2)
    out = tmp_path / "out" / "00A" / "psa.adf.partial"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gpsa.cli.main", "run", str(conf), "-q",
                             "--mode", mode], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (out.exists() and out.stat().st_size > 0):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no output after 90 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    block = read_all(out)  # raises on a truncated or corrupt file
    assert "meta:eof" not in block.counts  # an interrupted run is not complete
    assert not (out.parent / "psa.adf").exists()
    numbers = block.psa.events.event_numbers
    assert 0 < len(numbers) < 6000
    assert np.array_equal(numbers, np.arange(len(numbers)))  # nothing lost or duplicated
    prov = json.loads((out.parent / "gpsa-run.json").read_text())
    assert prov["status"] == "interrupted"
    assert prov["result"]["events_in"] == prov["result"]["events_out"] == len(numbers)
    assert {"path": str(out), "state": "partial"} in prov["outputs"]
    assert {d["state"] for d in prov["outputs"]} == {"partial"}  # the truth file too
    assert "interrupted" in stdout
