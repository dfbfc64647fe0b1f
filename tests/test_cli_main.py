"""The ``gpsa`` entry point: help, version, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gpsa import __version__
from gpsa.cli.main import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: gpsa" in capsys.readouterr().out


def test_console_script_help_runs_in_a_subprocess() -> None:
    out = subprocess.run([sys.executable, "-m", "gpsa.cli.main", "--help"], capture_output=True,
                         text=True, check=True)
    assert "Pulse-shape analysis" in out.stdout


def test_import_gpsa_does_not_import_cupy() -> None:
    code = "import sys, gpsa, gpsa.block, gpsa.cli.main; gpsa.cli.main.build_parser(); " \
           "print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
