"""Broken third-party plugins, installed for real (a temporary distribution whose entry points
are on ``sys.path``): one that raises on import, one whose catalogue hook raises, one with a
misspelled hook. Each is skipped with one warning naming it and GPSA_BLOCK_PLUGINS, and every
command still works. A PSA algorithm whose ``analyse`` raises is named, with its plugin."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from actors.conftest import write_run

from gpsa.cli.main import main
from gpsa.plugins.catalogue import build_catalogue, get_catalogue
from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

BROKEN = ("broken-import", "crashy-hook", "typo-hook")
MODULES = {
    "broken_import_plugin": 'raise RuntimeError("kaput at import\\nsecond line")\n',
    "crashy_hook_plugin": """\
        from gpsa.plugins import Filter, hookimpl


        class Fine(Filter):
            name = "crashy-fine"


        @hookimpl
        def gpsa_register_actors(register):
            register(Fine)  # registered before the failure: must not stay


        @hookimpl
        def gpsa_register_psa_algorithms(register):
            raise RuntimeError("kaput in hook")
        """,
    "typo_hook_plugin": """\
        from gpsa.plugins import hookimpl


        @hookimpl
        def gpsa_register_actorz(register):
            pass
        """,
    "failing_psa_plugin": """\
        from gpsa.plugins import PsaAlgorithm, hookimpl


        class Failing(PsaAlgorithm):
            \"\"\"Raises on every block.\"\"\"

            name = "failing-psa"

            def analyse(self, block):
                raise ValueError("bad block")


        @hookimpl
        def gpsa_register_psa_algorithms(register):
            register(Failing)
        """,
}
ENTRY_POINTS = {"broken-import": "broken_import_plugin", "crashy-hook": "crashy_hook_plugin",
                "typo-hook": "typo_hook_plugin", "failing-psa": "failing_psa_plugin"}


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugins as a distribution on sys.path (entry-point group ``gpsa``)."""
    site = tmp_path / "site"
    site.mkdir()
    for name, body in MODULES.items():
        (site / f"{name}.py").write_text(textwrap.dedent(body))
    info = site / "gpsa_broken_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gpsa-broken-test\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[gpsa]\n" + "".join(f"{k} = {v}\n" for k, v in ENTRY_POINTS.items()))
    for var in ("GPSA_DISABLE_PLUGIN_AUTOLOAD", "GPSA_BLOCK_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.syspath_prepend(str(site))
    reset_plugin_manager()
    yield site
    reset_plugin_manager()
    for name in MODULES:
        sys.modules.pop(name, None)


def test_broken_plugins_are_skipped_with_one_warning_each(
        installed: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gpsa.plugins"):
        pm = create_plugin_manager()
        cat = build_catalogue(pm)
    assert set(pm.skipped) == set(BROKEN)
    assert "gpsa.actors.psa" in [n for n, _ in pm.list_name_plugin()]
    assert "psa" in cat.actors and "failing-psa" in cat.psa_algorithms
    assert "crashy-fine" not in cat.actors  # a broken plugin is skipped whole
    assert pm.get_plugin("crashy-hook") is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(BROKEN)
    for name, line in zip(BROKEN, sorted(lines), strict=True):
        assert line.startswith(f"plugin {name!r} skipped: ") and "\n" not in line
        assert f"GPSA_BLOCK_PLUGINS={name}" in line
    assert "RuntimeError: kaput at import" in sorted(lines)[0]
    assert "gpsa_register_psa_algorithms failed: RuntimeError: kaput in hook" in sorted(lines)[1]


def test_commands_still_run_and_blocking_silences(installed: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = os.pathsep.join([str(installed), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "gpsa.cli.main", "plugins"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    warned = [line for line in out.stderr.splitlines() if "skipped" in line]
    assert len(warned) == len(BROKEN), out.stderr
    for name in BROKEN:
        assert any(f"'{name}'" in w and f"GPSA_BLOCK_PLUGINS={name}" in w for w in warned)
    assert "Traceback" not in out.stderr and "failing-psa" in out.stdout
    env["GPSA_BLOCK_PLUGINS"] = ",".join(BROKEN)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "skipped" not in out.stderr, out.stderr


def test_analyse_exception_names_the_plugin(installed: Path, tmp_path: Path, basis_file: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    get_catalogue()  # the broken ones warn here, once
    conf = write_run(tmp_path / "run", basis_file, crystals=("00A",), events=10, block_size=10,
                     algorithm="failing-psa")
    assert main(["run", str(conf), "-q"]) == 1
    err = capsys.readouterr().err
    assert "actor 'psa' (filter) failed in process of a block of 10 events" in err
    assert ("PSA algorithm 'failing-psa' of plugin 'failing-psa': analyse failed: "
            "ValueError: bad block") in err
