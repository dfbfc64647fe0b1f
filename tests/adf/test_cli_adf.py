"""``gpsa adf dump`` and ``gpsa adf make-example``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpsa.cli.main import main

from .conftest import Mixed

Capsys = pytest.CaptureFixture[str]


def test_dump_plain(mixed: Mixed, capsys: Capsys) -> None:
    assert main(["adf", "dump", str(mixed.path), "--first", "3"]) == 0
    out = capsys.readouterr().out
    assert f"frames\t{len(mixed.offsets)}" in out and f"bytes\t{len(mixed.data)}" in out
    assert "data:crystal\t0xFA010101\t12" in out and "0x12345678\t0x12345678\t3" in out
    assert "unknown frames\t3" in out
    first = [line for line in out.splitlines() if line.startswith(("0\t", "19\t"))]
    assert first[0].startswith("0\tconf:global\t")
    assert f"{mixed.offsets[1]}\tdata:crystal\t7784\t0\t" in out


def test_dump_json(mixed: Mixed, capsys: Capsys) -> None:
    assert main(["adf", "dump", str(mixed.path), "--json", "--first", "2"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["frames"] == len(mixed.offsets) and r["bytes"] == len(mixed.data)
    per_key = {d["key"]: d["frames"] for d in r["frames_per_key"]}
    assert per_key["data:psa"] == 12 and per_key["event:data:psa"] == 3
    assert [f["offset"] for f in r["first_frames"]] == mixed.offsets[:2]
    assert r["error"] is None and r["timestamp_min"] <= r["timestamp_max"]


def _corrupt(mixed: Mixed, tmp_path: Path, k: int = 7) -> tuple[Path, int]:
    off = mixed.offsets[k]
    path = tmp_path / "bad.adf"
    path.write_bytes(mixed.data[:off] + (3).to_bytes(4, "little") + mixed.data[off + 4:])
    return path, off


def test_dump_corrupt_reports_frames_before_then_fails(mixed: Mixed, tmp_path: Path,
                                                       capsys: Capsys) -> None:
    path, off = _corrupt(mixed, tmp_path)
    assert main(["adf", "dump", str(path)]) == 1
    cap = capsys.readouterr()
    assert "frames\t7" in cap.out and "data:crystal\t0xFA010101\t3" in cap.out
    err = [line for line in cap.err.splitlines() if line.startswith("gpsa: error:")]
    assert err == [f"gpsa: error: {path}: byte offset {off}: frame 7 (data:crystal): length 3 "
                   f"is less than the 20-byte frame key"]


def test_dump_corrupt_json_and_resync(mixed: Mixed, tmp_path: Path, capsys: Capsys) -> None:
    path, off = _corrupt(mixed, tmp_path)
    assert main(["adf", "dump", str(path), "--json"]) == 1
    r = json.loads(capsys.readouterr().out)
    assert r["frames"] == 7 and f"byte offset {off}" in r["error"]
    assert main(["adf", "dump", str(path), "--json", "--resync"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["frames"] == len(mixed.offsets) - 1 and r["skipped_bytes"] == 7784
    assert r["skips"] == [{"offset": off, "bytes": 7784}] and len(r["recovered_errors"]) == 1


def test_dump_with_key_file(mixed: Mixed, tmp_path: Path, capsys: Capsys) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("trace 0xFA010101\n")
    assert main(["adf", "dump", str(mixed.path), "--keys", str(keys), "--first", "0"]) == 0
    out = capsys.readouterr().out
    assert "trace\t0xFA010101\t12" in out and "data:psa" not in out
    keys.write_text("trace 0xFA010101 v9\n")
    assert main(["adf", "dump", str(mixed.path), "--keys", str(keys)]) == 2
    assert "asks for codec version v9" in capsys.readouterr().err


def test_make_example_then_dump(tmp_path: Path, capsys: Capsys) -> None:
    path = tmp_path / "ex.adf"
    assert main(["adf", "make-example", str(path), "--events", "3"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert main(["adf", "dump", str(path), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {d["key"]: d["frames"] for d in r["frames_per_key"]} == {
        "conf:global": 1, "data:crystal": 3, "data:psa": 3, "meta:eof": 1}


def test_dump_corrupt_in_a_subprocess(mixed: Mixed, tmp_path: Path) -> None:
    path, off = _corrupt(mixed, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "gpsa.cli.main", "adf", "dump", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert f"gpsa: error: {path}: byte offset {off}: frame 7" in proc.stderr
    assert "frames\t7" in proc.stdout
