"""``docs/writing-a-psa-plugin.md`` cannot rot silently: the files it shows (blocks starting with
``# file: PATH``) are written to a folder and their own tests run there; the plugin is loaded as
the page says, listed, configured and benchmarked; and the gpsa names, signatures and status
flags the page cites exist as cited."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from docs.conftest import DOCS, file_blocks
from gpsa.cli.main import main
from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GUIDE = DOCS / "writing-a-psa-plugin.md"
TEXT = GUIDE.read_text()
FILES = file_blocks(TEXT)


def write_files(folder: Path) -> None:
    for name, body in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


@pytest.fixture
def guide_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The guide's plugin module, imported from its files, loaded beside the built-ins."""
    write_files(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("nearest_psa.plugin")
    reset_plugin_manager(create_plugin_manager(extra=[module], autoload=False))
    yield module
    reset_plugin_manager()
    for name in [m for m in sys.modules if m == "nearest_psa" or m.startswith("nearest_psa.")]:
        del sys.modules[name]


def test_the_guide_shows_a_whole_distribution() -> None:
    assert set(FILES) == {"pyproject.toml", "nearest_psa/__init__.py", "nearest_psa/plugin.py",
                          "tests/test_nearest_psa.py"}
    project = tomllib.loads(FILES["pyproject.toml"])
    target = project["project"]["entry-points"]["gpsa"]["nearest-psa"]
    assert target == "nearest_psa.plugin"
    assert f"{target.replace('.', '/')}.py" in FILES
    assert project["tool"]["setuptools"]["packages"] == ["nearest_psa"]


def test_the_guide_tests_pass(tmp_path: Path) -> None:
    write_files(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if k not in ("GPSA_BLOCK_PLUGINS", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
                          "-W", "error"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "4 passed" in out.stdout


def test_listed_and_configured_as_the_guide_says(
        guide_plugin: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["plugins", "--json"]) == 0
    plugins = json.loads(capsys.readouterr().out)
    mine = next(p for p in plugins if p["module"] == "nearest_psa.plugin")
    assert mine["hooks"] == ["gpsa_register_psa_algorithms"]
    (reg,) = mine["registered"]
    assert reg["name"] == "nearest-signal" and set(reg["params"]) == {
        "threshold_kev", "samples", "default_t0", "skip"}
    assert reg["params"]["skip"]["choices"] == ["rejected", "none"]
    assert main(["plugins", "--markdown"]) == 0
    assert "### `nearest-signal`" in capsys.readouterr().out
    # the guide's psa stage, in a chain that check accepts
    stage = next(b for b in re.findall(r"```toml\n(.*?)```", TEXT, re.S)
                 if 'algorithm = "nearest-signal"' in b)
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    (tmp_path / "bases").mkdir()
    write_basis(tmp_path / "bases" / "A-2mm.h5",
                toy_basis(ToyCrystal.small(), grid_mm=4.0, n_samples=60, t0_sample=10))
    run = tmp_path / "run.toml"
    run.write_text('[run]\ncrystals = ["00A"]\n\n[[stage]]\nactor = "simulator"\n'
                   'basis = "bases/A-2mm.h5"\n\n' + stage + '\n[[stage]]\nactor = "summary"\n')
    assert main(["config", "check", str(run)]) == 0
    capsys.readouterr()
    bad = run.read_text().replace("samples = 20", "samples = 55")
    run.write_text(bad)
    assert main(["config", "check", str(run)]) == 2
    assert "nearest-signal.samples: 55 samples from the basis T0 10 exceed" in \
        capsys.readouterr().err


def test_bench_runs_it_beside_the_grid_search(
        guide_plugin: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from gpsa.bench.benchmark import Case

    monkeypatch.setattr("gpsa.bench.report.default_cases",
                        lambda device: [Case("numba", "full", 0.3)])
    out = tmp_path / "bench.json"
    assert main(["bench", "--source", "toy-small", "--events", "60", "--reference-events", "30",
                 "--samples", "30", "--repeat", "1", "--psa", "nearest-signal",
                 "--output", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())["algorithms"]}
    assert list(rows) == ["grid-search", "nearest-signal"]
    mine = rows["nearest-signal"]
    assert mine["error"] is None and mine["events"] == 60
    assert mine["accuracy"]["median_3d_mm"] < 6.0


def _resolve(dotted: str) -> Any:
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_cited_gpsa_names_exist() -> None:
    cited = set(re.findall(r"`(gpsa(?:\.[A-Za-z_]\w*)+)", TEXT))
    assert len(cited) > 15
    for dotted in sorted(cited):
        _resolve(dotted)
    from gpsa.basis.model import Basis
    from gpsa.block import CrystalBlock, PsaBlock, PsaEvents, PsaHits
    from gpsa.runtime.psa_algorithm import PsaAlgorithm
    from gpsa.status import EventStatus, PsaStatus

    classes = {c.__name__: c for c in (Basis, CrystalBlock, PsaBlock, PsaEvents, PsaHits,
                                       PsaAlgorithm, EventStatus, PsaStatus)}
    pattern = r"`(" + "|".join(classes) + r")\.(\w+)"
    for cls, attr in re.findall(pattern, TEXT):
        assert hasattr(classes[cls], attr), f"{cls}.{attr}"
    for flag in [*EventStatus, *PsaStatus]:
        if flag.value:
            assert f"| `{flag.name}` |" in TEXT, f"status flag {flag.name} not in the guide"
    for column in PsaHits._SPEC:
        assert f"`{column}`" in TEXT, f"PsaHits column {column}"
    for field in ("traces", "energies", "t0", "status", "timestamps", "event_numbers",
                  "crystal_ids"):
        assert field in CrystalBlock._SPEC and f"`{field}`" in TEXT
    for attr in ("name", "devices", "thread_safe"):
        assert f"| `{attr}` |" in TEXT and hasattr(PsaAlgorithm, attr)
    assert PsaAlgorithm.devices == ("cpu",) and PsaAlgorithm.thread_safe is True
    for method in ("setup", "check_basis", "analyse", "close", "check_config"):
        assert f"`{method}" in TEXT and callable(getattr(PsaAlgorithm, method))


#: Cited with their signature (names in order, defaults as written); others as calls.
SIGNATURES = ("gpsa.config.params.Param", "gpsa.bench.toy.toy_basis",
              "gpsa.bench.toy.simulate_events", "gpsa.block.PsaEvents.from_crystal_block",
              "gpsa.block.PsaHits.build")


@pytest.mark.parametrize("target", [
    *SIGNATURES, "gpsa.psa.window.integer_t0", "gpsa.psa.window.measured_window",
    "gpsa.plugins.manager.create_plugin_manager", "gpsa.basis.io.write_basis",
    "gpsa.bench.accuracy.error_stats", "gpsa.runtime.demo.compare_with_truth",
])
def test_cited_signatures_match(target: str) -> None:
    """Every ``name(a, b=1, *, c=None)`` the guide writes uses real parameter names (in order,
    with the real defaults, where it cites the signature)."""
    params = {k: p for k, p in inspect.signature(_resolve(target)).parameters.items()
              if k not in ("self", "cls")}
    short = target.rsplit(".", 1)[1]
    calls = re.findall(rf"`(?:\w+\.)*{short}\(([^`]*)\)`", TEXT)
    assert calls, f"{short}(...) is not cited"
    for call in calls:
        args = [a.strip() for a in call.split(",") if a.strip() not in ("", "*", "...")]
        positional = [a for a in args if "=" not in a and not a.startswith("**")]
        assert len(positional) <= len(params), call
        for arg in args:
            name, eq, value = arg.partition("=")
            if eq or arg.startswith("**"):
                assert name.lstrip("*") in params, f"{short}: no parameter {name!r}"
            if eq and target in SIGNATURES:
                assert params[name].default == eval(value, {}, {}), f"{short}: {arg}"
        if target in SIGNATURES:  # the names, in the order of the real parameters
            names = [a.partition("=")[0].lstrip("*") for a in args]
            order = [list(params).index(n) for n in names]
            assert order == sorted(order), f"{short}({call})"
            assert names[:len(positional)] == list(params)[:len(positional)], call


def test_guide_links_exist() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", TEXT):
        assert (GUIDE.parent / target).exists(), target
