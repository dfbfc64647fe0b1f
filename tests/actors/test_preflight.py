"""``gpsa config check`` checks what the run needs, and ``gpsa run`` does the same checks first:
for each problem, check exits 2 naming it, and run exits 2 with the same line before any data is
read (no output file, no provenance). A run that passes the check starts."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import pytest

from gpsa.cli.main import main

from .conftest import write_replay, write_run


def replay(folder: Path, basis: Path, data: Path, *, consumer: str = "adf-writer",
           psa: str = "") -> Path:
    return write_replay(folder, basis, data, preprocess=False, psa=psa, consumer=consumer)


@pytest.fixture(scope="module")
def good_adf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adf") / "events.adf"
    assert main(["adf", "make-example", str(path), "--events", "4"]) == 0
    return path


def check_and_run(conf: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Exit codes and the error line of ``config check`` and ``run``; they must agree."""
    assert main(["config", "check", str(conf)]) == 2
    check_err = capsys.readouterr().err.strip().splitlines()[-1]
    assert main(["run", str(conf), "-q"]) == 2
    run_err = capsys.readouterr().err.strip().splitlines()[-1]
    assert check_err == run_err and check_err.startswith("gpsa: error: ")
    assert not (conf.parent / "out" / "00A" / "gpsa-run.json").exists()  # nothing started
    return check_err


def test_basis_that_is_not_a_basis(tmp_path: Path, good_adf: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "fake.h5"
    with h5py.File(fake, "w") as f:
        f["x"] = [1, 2, 3]
    err = check_and_run(replay(tmp_path, fake, good_adf), capsys)
    assert "crystal 00A: stage 'psa'" in err and "fake.h5" in err and "format" in err


def test_basis_that_does_not_fit_the_settings(tmp_path: Path, basis_file: Path, good_adf: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    conf = replay(tmp_path, basis_file, good_adf, psa="samples = 58")  # the basis has 60
    err = check_and_run(conf, capsys)
    assert "stage 'psa'" in err and "do not fit in the basis's 60 samples" in err


@pytest.mark.parametrize("content", [b"", b"not an ADF file at all, just text\n" * 3],
                         ids=["empty", "garbage"])
def test_adf_input_that_does_not_decode(tmp_path: Path, basis_file: Path, content: bytes,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "in.adf"
    data.write_bytes(content)
    err = check_and_run(replay(tmp_path, basis_file, data), capsys)
    assert "stage 'adf-reader'" in err and str(data) in err
    assert ("empty file" in err) if not content else ("not a readable ADF file" in err)


def test_output_folder_not_writable(tmp_path: Path, basis_file: Path, good_adf: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    conf = replay(tmp_path, basis_file, good_adf)
    (tmp_path / "out").write_text("a file where the output folder should be")
    assert main(["config", "check", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "crystal 00A" in err and "output folder not writable" in err
    assert main(["run", str(conf), "-q"]) == 2


def test_missing_optional_dependency(tmp_path: Path, basis_file: Path, good_adf: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uproot", None)  # as if the root extra were not installed
    err = check_and_run(replay(tmp_path, basis_file, good_adf, consumer="root-writer"), capsys)
    assert "stage 'root-writer'" in err and "pip install 'gpsa[root]'" in err


def test_config_check_warns_about_a_basis_of_another_shape(
        tmp_path: Path, basis_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, basis_file, crystals=("00A", "00B"))  # the toy basis is shape A
    assert main(["config", "check", str(conf)]) == 0
    captured = capsys.readouterr()
    assert "1 warning(s)" in captured.out
    assert "crystal 00B: stage 'psa': basis" in captured.err and "shape A" in captured.err


def test_a_checked_run_starts(tmp_path: Path, basis_file: Path, good_adf: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    conf = replay(tmp_path, basis_file, good_adf)
    assert main(["config", "check", str(conf)]) == 0
    assert main(["run", str(conf), "-q"]) == 0
    assert (tmp_path / "out" / "00A" / "psa.adf").exists()


def test_jobs_below_one_and_above_the_cores(tmp_path: Path, basis_file: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from gpsa.runtime.modes import usable_cores

    conf = write_run(tmp_path, basis_file, crystals=("00A",), events=20, block_size=10)
    assert main(["run", str(conf), "-q", "--mode", "parallel", "--jobs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "gpsa: error: --jobs 0: must be at least 1"
    many = usable_cores() + 3
    assert main(["run", str(conf), "-q", "--mode", "parallel", "--jobs", str(many)]) == 0
    err = capsys.readouterr().err
    assert (f"gpsa: note: --jobs {many} is more than the {usable_cores()} CPU cores here; "
            "running 1 worker process") in err
