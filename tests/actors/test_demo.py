"""``gpsa demo``: the README's main command, small."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpsa.cli.main import main


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--crystals", "1", "--events", "100", "--mode",
                 "simple", "-q"]) == 0
    text = capsys.readouterr().out
    assert "PSA vs truth" in text and "00A\t100\t" in text
    assert (out / "out" / "00A" / "psa.adf").stat().st_size > 0
    assert main(["config", "check", str(out / "run.toml")]) == 0
