"""``gpsa plugins``: installed plugins, their hooks and registrations."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from gpsa.cli.main import main
from gpsa.plugins.manager import BUILTIN_PLUGINS, reset_plugin_manager


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_plugins_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert set(BUILTIN_PLUGINS) <= set(plugins)
    psa = plugins["gpsa.actors.psa"]
    assert psa["builtin"] and psa["hooks"] == ["gpsa_register_actors",
                                               "gpsa_register_psa_algorithms"]
    regs = {(r["kind"], r["name"]): r for r in psa["registered"]}
    assert ("filter", "psa") in regs and ("psa", "grid-search") in regs
    assert regs["filter", "psa"]["params"]["basis"]["required"]
    assert regs["psa", "grid-search"]["params"]["p"]["default"] == 1.0
    kinds = {r["kind"] for p in plugins.values() for r in p["registered"]}
    assert {"producer", "filter", "consumer", "psa", "codec", "basis-reader"} <= kinds


def test_plugins_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "# Plugins" in out and "gpsa.actors.adf_io" in out and "adf-writer" in out


def test_blocked_builtin_disappears(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GPSA_BLOCK_PLUGINS", "gpsa.actors.root_out")
    assert main(["plugins", "--json"]) == 0
    names = [r["name"] for p in json.loads(capsys.readouterr().out) for r in p["registered"]]
    assert "root-writer" not in names and "adf-writer" in names
