"""Plugin loading: built-ins like third-party plugins, entry points, blocking, check_pending,
tracing, and host-side validation of registrations."""

from __future__ import annotations

import inspect
import logging
import re
import types
from importlib.metadata import EntryPoint

import pytest
from runtime import toy

from gpsa.plugins import Filter, hookimpl, hookspecs
from gpsa.plugins.catalogue import build_catalogue
from gpsa.plugins.manager import (
    BUILTIN_PLUGINS,
    PluginError,
    create_plugin_manager,
    plugin_info,
)


def plugin(name: str, **hooks: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    for hname, func in hooks.items():
        setattr(mod, hname, hookimpl(func))
    return mod


def test_every_hookspec_is_documented() -> None:
    specs = [f for n, f in vars(hookspecs).items() if n.startswith("gpsa_")]
    assert len(specs) >= 6
    for f in specs:
        doc = inspect.getdoc(f) or ""
        assert "Called:" in doc and ":return:" in doc, f.__name__
        assert all(p.annotation is not inspect.Parameter.empty
                   for p in inspect.signature(f).parameters.values())


def test_builtins_registered_like_plugins_and_blockable() -> None:
    pm = create_plugin_manager(autoload=False)
    names = [p["name"] for p in plugin_info(pm)]
    assert set(BUILTIN_PLUGINS) <= set(names)
    pm = create_plugin_manager(autoload=False, blocked=[BUILTIN_PLUGINS[0]])
    assert BUILTIN_PLUGINS[0] not in [p["name"] for p in plugin_info(pm)]


def test_env_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPSA_BLOCK_PLUGINS", f" {BUILTIN_PLUGINS[0]} ,other")
    pm = create_plugin_manager(autoload=False)
    assert pm.is_blocked(BUILTIN_PLUGINS[0]) and pm.get_plugin(BUILTIN_PLUGINS[0]) is None


def test_misspelled_hook_is_rejected_at_load() -> None:
    bad = plugin("typo_plugin", gpsa_register_actorz=lambda register: None)
    with pytest.raises(PluginError, match="typo_plugin.*gpsa_register_actorz"):
        create_plugin_manager(builtins=(), extra=[bad], autoload=False)


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, *eps: EntryPoint) -> None:
    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda group=None: [e for e in eps
                                                                if e.group == group])


def test_entry_points_loaded_unless_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, EntryPoint("toys", "runtime.toy", "gpsa"))
    monkeypatch.delenv("GPSA_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pm = create_plugin_manager(builtins=())
    assert pm.get_plugin("toys") is toy
    assert "toy-square" in build_catalogue(pm).actors
    monkeypatch.setenv("GPSA_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert create_plugin_manager(builtins=()).get_plugin("toys") is None
    monkeypatch.setenv("GPSA_BLOCK_PLUGINS", "toys")
    assert create_plugin_manager(builtins=(), autoload=True).get_plugin("toys") is None


def test_broken_entry_point_is_skipped_naming_the_plugin(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _fake_entry_points(monkeypatch, EntryPoint("broken", "no_such_module_xyz", "gpsa"),
                       EntryPoint("toys", "runtime.toy", "gpsa"))
    with caplog.at_level(logging.WARNING, logger="gpsa.plugins"):
        pm = create_plugin_manager(builtins=(), autoload=True)
    assert pm.get_plugin("toys") is toy and pm.get_plugin("broken") is None
    assert "broken" in pm.skipped
    (line,) = [r.getMessage() for r in caplog.records]
    assert re.match(r"plugin 'broken' skipped: cannot load no_such_module_xyz: "
                    r"ModuleNotFoundError: .*GPSA_BLOCK_PLUGINS=broken", line)


def test_trace_hooks(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("GPSA_TRACE_HOOKS", "1")
    pm = create_plugin_manager(builtins=(), extra=[toy], autoload=False)
    with caplog.at_level(logging.INFO, logger="gpsa.plugins.trace"):
        build_catalogue(pm)
    assert any("gpsa_register_actors" in r.getMessage() for r in caplog.records)


def test_name_clash_names_both_plugins() -> None:
    twin = plugin("twin", gpsa_register_actors=lambda register: register(toy.Square))
    pm = create_plugin_manager(builtins=(), extra=[toy, twin], autoload=False)
    with pytest.raises(PluginError, match=r"plugin 'twin': actor 'toy-square' is already "
                       r"registered by plugin '.*toy'"):
        build_catalogue(pm)


class NoName(Filter):
    """A filter without a name."""


class BadName(Filter):
    name = "Bad Name"


@pytest.mark.parametrize("hook, arg, message", [
    ("gpsa_register_actors", int, "register() expects a Producer, Filter, Consumer or GlobalActor"),
    ("gpsa_register_actors", NoName, "actor NoName name ''"),
    ("gpsa_register_actors", BadName, "actor BadName name 'Bad Name' must match"),
    ("gpsa_register_psa_algorithms", toy.Square, "register() expects a PsaAlgorithm subclass"),
    ("gpsa_register_codecs", object(), "a codec needs a str name"),
])
def test_bad_registrations(hook: str, arg: object, message: str) -> None:
    bad = plugin("badplug", **{hook: lambda register: register(arg)})
    pm = create_plugin_manager(builtins=(), extra=[bad], autoload=False)
    with pytest.raises(PluginError, match=re.escape(f"plugin 'badplug': {message}")):
        build_catalogue(pm)


def test_hook_exception_skips_the_plugin_naming_it(caplog: pytest.LogCaptureFixture) -> None:
    def boom(register: object) -> None:
        raise RuntimeError("kaput")

    pm = create_plugin_manager(builtins=(), autoload=False,
                               extra=[toy, plugin("crashy", gpsa_register_actors=boom)])
    with caplog.at_level(logging.WARNING, logger="gpsa.plugins"):
        cat = build_catalogue(pm)
    assert "toy-square" in cat.actors and "crashy" in pm.skipped
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("plugin 'crashy' skipped: gpsa_register_actors failed: "
                           "RuntimeError: kaput") and "GPSA_BLOCK_PLUGINS=crashy" in line


def test_hook_exception_of_a_builtin_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(register: object) -> None:
        raise RuntimeError("kaput")

    import gpsa.plugins.catalogue as catalogue

    crashy = plugin("crashy", gpsa_register_actors=boom)
    monkeypatch.setattr(catalogue, "BUILTIN_PLUGINS", ("crashy",))
    pm = create_plugin_manager(builtins=(), extra=[crashy], autoload=False)
    with pytest.raises(PluginError, match="plugin 'crashy': gpsa_register_actors failed: "
                       "RuntimeError: kaput"):
        build_catalogue(pm)


def test_codecs_and_basis_readers_from_builtins() -> None:
    cat = build_catalogue(create_plugin_manager(autoload=False))
    assert ("data:psa", 1) in cat.codecs and cat.codecs["data:psa", 1].plugin in BUILTIN_PLUGINS
    from pathlib import Path

    assert cat.basis_reader(Path("x.H5")) is not None and cat.basis_reader(Path("x.txt")) is None
    assert cat.codec_registry().get("data:psa", 1) is not None
