"""``gpsa config init``: an AGATA-style run folder (Conf/<crystal>/, Out/) that ``gpsa simulate``
fills and ``gpsa run`` replays; refusals and errors leave nothing half-written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gpsa.cli.main import main
from gpsa.config import resolve_config
from gpsa.config.files import read_toml
from gpsa.plugins.manager import reset_plugin_manager

CRYSTAL_FILES = {"crystal.toml", "TimeEvoCC.conf", "calibration.txt", "crosstalk.txt"}


@pytest.fixture(autouse=True)
def default_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture(scope="module")
def basis_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    path = tmp_path_factory.mktemp("basis") / "toy6.h5"
    write_basis(path, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
    return path


def init(run: Path, *extra: str, basis: Path | str = "b.h5", crystals: str = "00A,00B") -> int:
    return main(["config", "init", str(run), "--crystals", crystals, "--basis", str(basis),
                 *extra])


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else b"/"
            for p in sorted(folder.rglob("*"))}


def test_layout_and_neutral_tables(tmp_path: Path) -> None:
    from gpsa.postpsa.gaindrift import read_gain_table
    from gpsa.preprocess.calibration import read_coefficients
    from gpsa.preprocess.crosstalk import read_matrix

    run = tmp_path / "runs" / "run_0001"  # parents are made
    assert init(run, crystals="0,00B,14C") == 0
    assert sorted(p.name for p in run.iterdir()) == ["Conf", "Out"]
    conf = run / "Conf"
    assert sorted(p.name for p in conf.iterdir()) == ["00A", "00B", "14C", "run.toml"]
    for crystal in ("00A", "00B", "14C"):
        folder = conf / crystal
        assert {p.name for p in folder.iterdir()} == CRYSTAL_FILES
        assert set(read_toml(folder / "crystal.toml")) == {"preprocess", "post-psa"}
        gains = read_gain_table(folder / "TimeEvoCC.conf")
        assert np.all(gains.gains_at(np.array([0, 10**9, 2**48 - 1])) == 1.0)
        offset, gain = read_coefficients(folder / "calibration.txt")
        assert np.all(offset == 0) and np.all(gain == 1)
        assert np.array_equal(read_matrix(folder / "crosstalk.txt"), np.eye(37))
        for name in CRYSTAL_FILES:  # a header names the format
            assert (folder / name).read_text().startswith("#")
    run_toml = read_toml(conf / "run.toml")
    assert [s["actor"] for s in run_toml["stage"]] == [
        "adf-reader", "preprocess", "psa", "post-psa", "adf-writer"]
    assert run_toml["run"]["output"] == "../Out"
    assert run_toml["stage"][0]["path"] == "../Data/{crystal}/events.adf"
    assert run_toml["stage"][2]["basis"] == str(Path.cwd() / "b.h5")  # outside RUN: absolute
    for line in (conf / "run.toml").read_text().splitlines():  # every key is explained
        if line and not line.startswith(("#", "[")):
            assert " # " in line, line


def test_init_simulate_run_is_a_replay(tmp_path: Path, basis_file: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from gpsa.adf import read_all

    run = tmp_path / "run_0002"
    assert init(run, basis=basis_file) == 0
    assert main(["config", "check", str(run)]) == 2  # no data yet
    assert "Data/00A/events.adf" in capsys.readouterr().err
    assert main(["simulate", "--basis", str(basis_file), "--crystals", "00A,00B", "--events",
                 "60", "--block-size", "30", "--out", str(run / "Data"), "-q"]) == 0
    assert main(["run", str(run), "-q"]) == 0
    for crystal, cid in (("00A", 0), ("00B", 1)):
        psa = read_all(run / "Out" / crystal / "psa.adf").psa
        assert len(psa.events) == 60 and set(psa.events.crystal_ids.tolist()) == {cid}
        prov = json.loads((run / "Out" / crystal / "gpsa-run.json").read_text())
        settings = {s["name"]: s["settings"] for s in prov["config"]["stages"]}
        folder = run / "Conf" / crystal  # the per-crystal tables, named relatively
        assert Path(settings["preprocess"]["calibration"]) == folder / "calibration.txt"
        assert Path(settings["preprocess"]["crosstalk"]) == folder / "crosstalk.txt"
        assert Path(settings["post-psa"]["gain_drift"]) == folder / "TimeEvoCC.conf"
    a, b = resolve_config(run), resolve_config(run / "Conf")
    assert {k: c.to_dict() for k, c in a.crystals.items()} == \
        {k: c.to_dict() for k, c in b.crystals.items()}


def test_unknown_key_in_crystal_file_names_file_and_line(tmp_path: Path, basis_file: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    run = tmp_path / "run"
    assert init(run, basis=basis_file) == 0
    f = run / "Conf" / "00B" / "crystal.toml"
    lines = f.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("gain_drift")) + 1
    f.write_text(f.read_text().replace("gain_drift =", "gain_drfit ="))
    capsys.readouterr()
    assert main(["run", str(run), "-q"]) == 2
    err = capsys.readouterr().err
    assert err == (f"gpsa: error: {f}:{n}: stage 'post-psa' (crystal 00B): unknown key "
                   "'gain_drfit' (did you mean 'gain_drift'?)\n")


def test_refuses_a_non_empty_folder_unless_forced(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    (run / "Data" / "00A").mkdir(parents=True)
    (run / "Data" / "00A" / "events.adf").write_bytes(b"data")
    before = tree(run)
    assert init(run) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder not empty (Data)" in err and "--force" in err
    assert tree(run) == before
    assert init(run, "--force") == 0
    assert (run / "Data" / "00A" / "events.adf").read_bytes() == b"data"  # kept
    (run / "Out" / "00A").mkdir()
    (run / "Conf" / "old.txt").write_text("replaced")
    assert init(run, "--force", crystals="01C") == 0
    assert sorted(p.name for p in (run / "Conf").iterdir()) == ["01C", "run.toml"]
    assert (run / "Out" / "00A").is_dir()  # kept
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no staging left
    empty = tmp_path / "empty"
    empty.mkdir()
    assert init(empty) == 0 and (empty / "Conf" / "run.toml").is_file()


@pytest.mark.parametrize("args, message", [
    (["--crystals", "00A,00A"], "--crystals: 00A given twice"),
    (["--crystals", "zz"], "--crystals: 'zz' is not a crystal name"),
    (["--crystals", ","], "--crystals: no crystal given"),
    (["--workers", "0"], "--workers must be >= 1"),
])
def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              args: list[str], message: str) -> None:
    argv = ["config", "init", str(tmp_path / "run"), "--basis", "b.h5", "--crystals", "00A"]
    assert main(argv + args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_target_not_a_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert init(f) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert init(f / "run") == 2
    assert f"cannot be created: {f} is not a folder" in capsys.readouterr().err
    assert f.read_text() == "x"


def test_unwritable_target_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import gpsa.config.agata_folder as af

    monkeypatch.setattr(af.os, "access", lambda path, mode: False)  # root may write anywhere
    assert init(tmp_path / "run") == 1
    assert f"{tmp_path} is not writable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing", [False, True])
def test_write_error_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str],
                                                 existing: bool) -> None:
    run = tmp_path / "new" / "run"
    if existing:
        assert init(run, crystals="00C") == 0
    before = tree(tmp_path)
    calls = {"n": 0}
    real = Path.write_text

    def failing(self: Path, *args: object, **kw: object) -> int:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", failing)
    assert init(run, *(["--force"] if existing else [])) == 1
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert err == f"gpsa: error: {run}: cannot write the run folder: No space left on device\n"
    assert tree(tmp_path) == before  # old Conf intact, or no folder at all
