"""``gpsa basis generate`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.io import load_basis
from gpsa.cli.main import main

FAST = ["--grid", "6", "--field-grid", "3"]


def test_generate_writes_a_basis_and_reuses_the_field_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, cache = tmp_path / "b.h5", tmp_path / "cache"
    argv = ["basis", "generate", *FAST, "--crystal", "00B", "--out", str(out),
            "--cache-dir", str(cache), "--impurity", "0.5,0.04", "--bias", "4800", "--tau", "30",
            "--set", "crosstalk=0.005", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert "basis: drifting charges" in captured.err  # plain progress lines off a terminal
    assert summary["fields_from_cache"] is False and summary["not_collected"] == 0
    basis = load_basis(out)
    assert len(basis) == summary["points"] > 1500
    assert basis.crystal_type == "B" and basis.preamp_tau_ns == 30.0
    settings = json.loads(basis.generator)["settings"]
    assert (settings["impurity_a"], settings["impurity_b"]) == (0.5, 0.04)
    assert settings["bias_v"] == 4800.0 and settings["crosstalk"] == 0.005
    assert len(list(cache.glob("fields-*.npz"))) == 1

    assert main(argv[:-1] + ["--out", str(tmp_path / "c.h5"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fields_from_cache"] is True
    again = load_basis(tmp_path / "c.h5")
    np.testing.assert_array_equal(again.signals, basis.signals)


@pytest.mark.parametrize("extra, needle", [
    (["--set", "foo=1"], "'foo'"),
    (["--set", "nonsense"], "KEY=VALUE"),
    (["--impurity", "1,2,3"], "--impurity"),
    (["--grid", "0"], "--grid"),
    (["--crystal", "Q"], "crystal"),
])
def test_bad_options_stop_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           extra: list[str], needle: str) -> None:
    argv = ["basis", "generate", *FAST, "--out", str(tmp_path / "x.h5"), "--no-cache", *extra]
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
