"""The whole local chain on simulated crystals, through ``gpsa run``: simple and parallel modes,
1 and 4 PSA workers, provenance, bad configurations stopped before any data is read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.cli.main import main
from gpsa.runtime.demo import compare_with_truth

from .conftest import write_run

#: Grid search on a 6 mm basis: the centroid of the hits lies within a few mm of the truth.
MEDIAN_MM = 5.0


def run_cli(*args: str) -> int:
    return main(["run", *map(str, args), "-q"])


@pytest.fixture(scope="module")
def simple_run(tmp_path_factory: pytest.TempPathFactory, basis_file: Path) -> Path:
    from gpsa.plugins.manager import reset_plugin_manager

    reset_plugin_manager()
    conf = write_run(tmp_path_factory.mktemp("simple"), basis_file,
                     consumers='\n[[stage]]\nactor = "root-writer"\n\n[[stage]]\nactor = "summary"')
    assert run_cli(conf, "--mode", "simple") == 0
    return conf.parent / "out"


def test_simple_mode_matches_truth(simple_run: Path) -> None:
    for crystal in ("00A", "00B"):
        cmp = compare_with_truth(simple_run / crystal)
        assert cmp["events"] == cmp["compared"] == 150
        assert cmp["median_mm"] < MEDIAN_MM


def test_outputs_and_provenance(simple_run: Path) -> None:
    import uproot

    from gpsa.adf import read_all

    d = simple_run / "00B"
    block = read_all(d / "psa.adf")
    assert block.counts["meta:eof"] == 1
    psa = block.psa
    assert np.array_equal(psa.events.event_numbers, np.arange(150))
    assert set(psa.events.crystal_ids.tolist()) == {1}
    tree = uproot.open(d / "psa.root")["TreeMaster"]
    assert {"nbCores", "coreTS", "coreE0", "coreId", "nbHits", "hitE", "hitX"} <= set(tree.keys())
    assert tree.num_entries == 150
    assert np.array_equal(tree["nbHits"].array(library="np"), psa.n_hits)
    summary = json.loads((d / "summary.json").read_text())
    assert summary["events"] == 150 and summary["hits"] == len(psa.hits)
    prov = json.loads((d / "gpsa-run.json").read_text())
    assert prov["status"] == "complete" and prov["result"]["events_out"] == 150
    stages = {s["name"]: s for s in prov["config"]["stages"]}
    assert stages["psa"]["settings"]["algorithm"] == "grid-search"
    assert stages["psa"]["settings"]["basis"].endswith("toy6.h5")


def test_parallel_mode_gives_the_same_files(simple_run: Path, tmp_path: Path,
                                            basis_file: Path) -> None:
    conf = write_run(tmp_path, basis_file)
    assert run_cli(conf, "--mode", "parallel", "--jobs", "2") == 0
    for crystal in ("00A", "00B"):
        assert (tmp_path / "out" / crystal / "psa.adf").read_bytes() == \
            (simple_run / crystal / "psa.adf").read_bytes()


def test_one_and_four_psa_workers_identical(simple_run: Path, tmp_path: Path,
                                            basis_file: Path) -> None:
    conf = write_run(tmp_path, basis_file, crystals=("00A",), workers=4, block_size=10)
    assert run_cli(conf) == 0
    four = (tmp_path / "out" / "00A" / "psa.adf").read_bytes()
    conf = write_run(tmp_path / "one", basis_file, crystals=("00A",), workers=1, block_size=10)
    assert run_cli(conf) == 0
    assert (tmp_path / "one" / "out" / "00A" / "psa.adf").read_bytes() == four


@pytest.mark.parametrize("edit, message", [
    (("rate_hz = 0.0", "rate_hz = 0.0\nevnets = 3"), "stage 'simulator': unknown key 'evnets'"),
    (("events = 150", 'events = "many"'), "stage 'simulator'.events: expected int, got str"),
    (("workers = 1", "workers = 1\nsearch = 'sideways'"), "search"),
    (('algorithm = "grid-search"', 'algorithm = "gridsearch"'),
     "unknown PSA algorithm 'gridsearch' (did you mean 'grid-search'?"),
])
def test_bad_configuration_fails_before_reading(tmp_path: Path, basis_file: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                edit: tuple[str, str], message: str) -> None:
    conf = write_run(tmp_path, basis_file)
    conf.write_text(conf.read_text().replace(*edit, 1))
    assert main(["config", "check", str(conf)]) == 2
    assert message in capsys.readouterr().err
    assert run_cli(conf) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was started, nothing read


def test_missing_basis_names_the_path(tmp_path: Path, basis_file: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, tmp_path / "nowhere" / "basis.h5")
    assert run_cli(conf) == 2
    err = capsys.readouterr().err
    assert "stage 'simulator'.basis: file not found:" in err and "nowhere/basis.h5" in err
    assert not (tmp_path / "out").exists()


def test_missing_cuda_fails_before_reading(tmp_path: Path, basis_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from gpsa.device import cuda_unavailable_reason

    if cuda_unavailable_reason() is None:
        pytest.skip("a CUDA device is available here")
    conf = write_run(tmp_path, basis_file)
    assert run_cli(conf, "--device", "cuda") == 2
    assert "cuda" in capsys.readouterr().err.lower()
    assert not (tmp_path / "out").exists()


def test_device_auto_says_its_choice_at_default_verbosity(
        tmp_path: Path, basis_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, basis_file, crystals=("00A",), events=10, block_size=10)
    assert run_cli(conf, "--device", "auto") == 0
    err = capsys.readouterr().err.splitlines()
    assert sum(line.startswith("gpsa: device auto: using ") for line in err) == 1, err


def test_config_check_and_show(tmp_path: Path, basis_file: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_run(tmp_path, basis_file, workers=2)
    assert main(["config", "check", str(conf)]) == 0
    out = capsys.readouterr().out
    assert "OK, 2 crystal(s)" in out and "psa x2" in out
    assert main(["config", "show", str(conf), "--crystal", "00B", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert list(shown) == ["00B"] and shown["00B"]["stages"][2]["workers"] == 2
