"""``basis info`` and ``basis convert`` (gpsa.cli.basis_files)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.io import load_basis, write_basis
from gpsa.basis.toy import toy_basis
from gpsa.cli.basis_files import add_file_commands


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gpsa basis")
    add_file_commands(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture()
def basis_file(tmp_path: Path) -> Path:
    return write_basis(tmp_path / "toy.h5", toy_basis(radius=13.0))


def test_info_json(basis_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["info", str(basis_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    b = toy_basis(radius=13.0)
    assert info["points"] == len(b) and info["samples"] == 40
    assert info["segment_counts"] == b.segment_counts.tolist()
    assert info["grid"]["spacing_mm"] == [6.0, 6.0, 6.0] and info["grid"]["dims"] == [5, 5, 5]
    assert info["memory_mapped"] is True and info["signals_bytes"] == b.signals.nbytes
    assert info["attributes"]["segment_order"] == "sector-major"


def test_info_table(basis_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["info", str(basis_file)]) == 0
    out = capsys.readouterr().out
    assert "points per segment" in out and "memory-mapped" in out and "spacing (6, 6, 6)" in out


def test_convert(basis_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rm16.h5"
    assert run(["convert", str(basis_file), str(out), "--segment-order", "ring-major",
                "--dtype", "float16", "--compression", "gzip"]) == 0
    assert "ring-major" in capsys.readouterr().out
    b = load_basis(out)
    assert b.segment_order == "ring-major" and b.signals.dtype == np.float16
    back = load_basis(out, segment_order="sector-major")
    orig = load_basis(basis_file)
    np.testing.assert_array_equal(back.segment, orig.segment)
    np.testing.assert_array_equal(back.signals, orig.signals.astype(np.float16))


def test_registered_in_gpsa_main(basis_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gpsa.cli.main import main

    assert main(["basis", "info", str(basis_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"] > 0
    assert main(["basis"]) == 2
    assert main(["basis", "info", str(basis_file.with_name("nope.h5"))]) == 1
    assert "missing file" in capsys.readouterr().err
