"""``gpsa geometry show | lab | check``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpsa.cli.main import main


def test_show_default_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["geometry", "show", "--json", "--step", "2"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == "A" and 300 < info["volume_cm3"] < 420
    assert len(info["segments"]) == 36
    assert info["segments"][1]["name"] == "A2"
    assert info["ring_depths_mm"] == [8, 13, 15, 18, 18, 18]
    assert info["segments_sum_cm3"] == pytest.approx(info["volume_cm3"], rel=0.01)


def test_show_text_ring_major(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["geometry", "show", "--shape", "B", "--order", "ring-major",
                 "--rings", "8,14,16,17,21,14", "--step", "2"]) == 0
    out = capsys.readouterr().out
    assert "volume" in out and "ring-major" in out and "8, 14, 16, 17, 21, 14" in out
    assert "\nB1\t" not in out and "\n1\tB1\t1\t0\t" in out  # ring-major: seg 1 = sector B


@pytest.mark.parametrize("argv, message", [
    (["geometry", "show", "--rings", "8,x"], "--rings"),
    (["geometry", "show", "--rings", "10,13,15,18,18,18"], "sum to 92"),
    (["geometry", "show", "--shape", "Q"], "unknown default crystal shape"),
    (["geometry", "lab"], "--crmat FILE"),
    (["geometry", "lab", "--euler", "e.geo"], "go together"),
    (["geometry", "lab", "--crmat", "does-not-exist.dat"], "cannot read"),
])
def test_usage_errors_exit_2(argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_lab_and_check_with_public_tables(agata: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    euler = ["--euler", str(agata["aeuler"]), "--cluster", str(agata["aclust"])]
    crmat = ["--crmat", str(agata["crmat"])]
    assert main(["geometry", "lab", *crmat, "--crystal", "00A", "--point", "0", "0", "0",
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["crystals"][0]
    assert row["name"] == "00A" and row["point_lab_mm"] == pytest.approx(row["translation_mm"])
    assert main(["geometry", "lab", *euler, "--crystal", "00A", "--rotate-z", "-33.9",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["crystals"][0]["translation_mm"] == \
        pytest.approx(row["translation_mm"], abs=1e-3)
    assert main(["geometry", "lab", *crmat]) == 0
    assert "59C" in capsys.readouterr().out
    assert main(["geometry", "check", *euler, *crmat, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["agree"] and result["fitted_rotation_z_deg"] == pytest.approx(-33.9, abs=0.01)
    assert main(["geometry", "check", *euler, *crmat, "--tol", "1e-9"]) == 1
    assert "DISAGREE" in capsys.readouterr().out
