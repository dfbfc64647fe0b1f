"""The separately installed gpsa-mlpsa plugin (CI installs plugins/gpsa-mlpsa): discovered
through its entry point, listed by ``gpsa plugins``, selectable with ``--psa mlpsa``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("gpsa_mlpsa", reason="gpsa-mlpsa is not installed "
                    "(pip install plugins/gpsa-mlpsa)")

from gpsa.cli.main import main  # noqa: E402
from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager  # noqa: E402


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("GPSA_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_discovered_through_the_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    pm = create_plugin_manager()
    import gpsa_mlpsa.plugin

    assert pm.get_plugin("mlpsa") is gpsa_mlpsa.plugin
    assert pm.distributions["mlpsa"][0] == "gpsa-mlpsa"
    assert main(["plugins", "--json"]) == 0
    ml = next(p for p in json.loads(capsys.readouterr().out) if p["name"] == "mlpsa")
    assert not ml["builtin"] and ml["hooks"] == ["gpsa_register_psa_algorithms"]
    assert [r["name"] for r in ml["registered"]] == ["mlpsa"]


def test_not_loaded_with_autoload_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPSA_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert create_plugin_manager().get_plugin("mlpsa") is None


def test_mlpsa_localises_toy_events() -> None:
    from gpsa_mlpsa.model import MlPsa

    from gpsa.bench.toy import ToyCrystal, simulate_events, toy_basis

    crystal = ToyCrystal()
    algo = MlPsa(copies=1)
    algo.setup(toy_basis(crystal, grid_mm=6.0), "cpu")
    block, truth = simulate_events(crystal, 200, seed=3)
    out = algo.analyse(block)
    assert len(out.events) == 200 and np.array_equal(out.hits.event_index, truth.event)
    err = np.linalg.norm(np.c_[out.hits.x, out.hits.y, out.hits.z] - truth.position, axis=1)
    assert np.median(err) < 6.0


def test_psa_mlpsa_in_a_run(tmp_path, basis_file) -> None:  # type: ignore[no-untyped-def]
    from actors.conftest import write_run

    from gpsa.runtime.demo import compare_with_truth

    conf = write_run(tmp_path, basis_file, crystals=("00A",), extra_psa="copies = 1")
    assert main(["run", str(conf), "-q", "--psa", "mlpsa"]) == 0
    prov = json.loads((tmp_path / "out" / "00A" / "gpsa-run.json").read_text())
    assert prov["config"]["stages"][2]["settings"]["algorithm"] == "mlpsa"
    assert compare_with_truth(tmp_path / "out" / "00A")["median_mm"] < 7.0


def test_mlpsa_settings_checked(tmp_path, basis_file, capsys) -> None:  # type: ignore[no-untyped-def]
    from actors.conftest import write_run

    conf = write_run(tmp_path, basis_file, algorithm="mlpsa", extra_psa="neighbours = 0")
    assert main(["config", "check", str(conf)]) == 2
    assert "stage 'psa'.neighbours: 0 is below the minimum 1" in capsys.readouterr().err
