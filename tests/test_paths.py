"""Output paths of the commands: checked before any work, written whole or not at all, one
line naming the file (gpsa.paths)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpsa.errors import ConfigError, OutputError
from gpsa.paths import atomic_output, check_output_file, check_writable


def blocked(tmp_path: Path) -> Path:
    """A folder that cannot exist: its parent is a file (refused even to root)."""
    f = tmp_path / "a-file"
    f.write_text("x")
    return f / "sub"


def test_check_writable_and_output_file(tmp_path: Path) -> None:
    assert check_writable(tmp_path / "new" / "dir").is_dir()
    assert not list((tmp_path / "new" / "dir").iterdir())  # the probe is gone
    with pytest.raises(ConfigError, match=r"a-file/sub: output folder not writable"):
        check_writable(blocked(tmp_path))
    with pytest.raises(ConfigError, match="is a folder"):
        check_output_file(tmp_path)


def test_atomic_output_renames_on_success_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_output(target) as tmp:
        assert tmp.name == "out.bin.partial"
        tmp.write_bytes(b"data")
        assert not target.exists()
    assert target.read_bytes() == b"data" and not tmp.exists()
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "bad.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no litter
    with pytest.raises(OutputError, match=r"x\.bin: cannot write: "), \
            atomic_output(tmp_path / "x.bin") as tmp:
        raise OSError(28, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("argv", [
    ["basis", "generate", "--crystal", "A", "--grid", "6", "--out", "{bad}/basis.h5"],
    ["simulate", "--basis", "{basis}", "--events", "10", "--out", "{bad}"],
    ["adf", "make-example", "{bad}/x.adf"],
    ["bench", "--basis", "{basis}", "--events", "10", "--output", "{bad}/bench.json"],
    ["demo", "--out", "{bad}"],
], ids=["basis-generate", "simulate", "make-example", "bench", "demo"])
def test_commands_check_outputs_before_computing(tmp_path: Path, basis_file: Path,
                                                 argv: list[str]) -> None:
    bad = blocked(tmp_path)
    args = [a.format(bad=bad, basis=basis_file) for a in argv]
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "gpsa.cli.main", *args], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert lines[0].startswith("gpsa: error: ") and "a-file/sub" in lines[0]
    assert time.monotonic() - t0 < 60  # it did not compute first (basis generate takes longer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing written


@pytest.fixture(scope="module")
def basis_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    path = tmp_path_factory.mktemp("basis") / "toy6.h5"
    write_basis(path, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
    return path
