"""The catalogue: what the plugins registered through the ``gpsa_register_*`` hooks.

The host owns validation: each registration is checked (right base class, valid name, no
clash) and recorded with the name of the plugin that made it, so every error names the plugin.
Each plugin's implementation is called on its own (through a pluggy subset caller, so hook
tracing still sees it), which is how registrations are attributed. A third-party plugin whose
hook raises is skipped whole, with one warning naming it and ``GPSA_BLOCK_PLUGINS``: it does not
stop commands that do not use it. :func:`plugin_failure` names the plugin of an error raised
later by a registered object (a PSA algorithm's ``analyse``).
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpsa.errors import ConfigError, GpsaError
from gpsa.plugins.manager import (
    BUILTIN_PLUGINS,
    GpsaPluginManager,
    PluginCallError,
    PluginError,
    get_plugin_manager,
    one_line,
)
from gpsa.runtime.actor import ACTOR_KINDS, Actor
from gpsa.runtime.psa_algorithm import PsaAlgorithm

NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Entry:
    """One registration. ``kind`` is an actor kind, ``"psa"``, ``"codec"``, ``"basis-reader"``
    or ``"trigger-condition"``."""

    kind: str
    name: str
    obj: Any
    plugin: str
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Catalogue:
    actors: dict[str, Entry] = field(default_factory=dict)
    psa_algorithms: dict[str, Entry] = field(default_factory=dict)
    codecs: dict[tuple[str, int], Entry] = field(default_factory=dict)  # (key name, version)
    basis_readers: dict[str, Entry] = field(default_factory=dict)  # by suffix
    trigger_conditions: dict[str, Entry] = field(default_factory=dict)

    def actor(self, name: str, where: str = "actor") -> type[Actor]:
        """The actor class registered as ``name``; ConfigError naming ``where`` otherwise."""
        if name not in self.actors:
            raise ConfigError(f"{where}: unknown actor {name!r}{_known(name, self.actors)}")
        return self.actors[name].obj

    def psa_algorithm(self, name: str, where: str = "algorithm") -> type[PsaAlgorithm]:
        if name not in self.psa_algorithms:
            raise ConfigError(f"{where}: unknown PSA algorithm {name!r}"
                              f"{_known(name, self.psa_algorithms)}")
        return self.psa_algorithms[name].obj

    def trigger_condition(self, name: str, where: str = "conditions") -> Any:
        """The :class:`gpsa.globallevel.trigger_conditions.TriggerCondition` registered as
        ``name``; ConfigError naming ``where`` otherwise."""
        if name not in self.trigger_conditions:
            raise ConfigError(f"{where}: unknown trigger condition {name!r}"
                              f"{_known(name, self.trigger_conditions)}")
        return self.trigger_conditions[name].obj

    def basis_reader(self, path: Path) -> Callable[[Path], Any] | None:
        """The reader registered for ``path``'s suffix, or None."""
        entry = self.basis_readers.get(path.suffix.lower())
        return entry.obj if entry is not None else None

    def codec_registry(self) -> Any:
        """A :class:`gpsa.adf.codecs.CodecRegistry` with the generic composite and raw codecs
        and every registered codec (for the ADF reader and writer)."""
        from gpsa.adf.codecs import CodecRegistry, CompositeCodec, RawCodec

        reg = CodecRegistry(composite=CompositeCodec(), raw=RawCodec())
        for entry in self.codecs.values():
            reg.register(entry.obj)
        return reg

    def entries(self) -> Iterable[Entry]:
        yield from self.actors.values()
        yield from self.psa_algorithms.values()
        yield from self.codecs.values()
        yield from self.trigger_conditions.values()
        seen: set[int] = set()
        for e in self.basis_readers.values():
            if id(e) not in seen:
                seen.add(id(e))
                yield e

    def by_plugin(self) -> dict[str, list[Entry]]:
        out: dict[str, list[Entry]] = {}
        for e in self.entries():
            out.setdefault(e.plugin, []).append(e)
        return out


def _known(name: str, table: dict[str, Entry]) -> str:
    close = difflib.get_close_matches(name, list(table), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f" ({hint}known: {', '.join(sorted(table)) or 'none'}; see `gpsa plugins`)"


def _check_name(name: Any, plugin: str, what: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise PluginError(f"plugin {plugin!r}: {what} name {name!r} must match {NAME_RE.pattern}")
    return name


def _add(table: dict[Any, Entry], key: Any, entry: Entry, what: str) -> None:
    old = table.get(key)
    if old is not None:
        raise PluginError(f"plugin {entry.plugin!r}: {what} {key!r} is already registered by "
                          f"plugin {old.plugin!r} (block one with GPSA_BLOCK_PLUGINS)")
    table[key] = entry


def build_catalogue(pm: GpsaPluginManager) -> Catalogue:
    """Call every catalogue hook, plugin by plugin, and check what they register."""
    cat = Catalogue()

    def actors(plugin: str, cls: Any) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Actor) and cls.kind in ACTOR_KINDS):
            raise PluginError(f"plugin {plugin!r}: register() expects a Producer, Filter, "
                              f"Consumer or GlobalActor subclass, got {cls!r}")
        name = _check_name(cls.name, plugin, f"actor {cls.__name__}")
        _add(cat.actors, name, Entry(cls.kind, name, cls, plugin, cls.summary()), "actor")

    def psa(plugin: str, cls: Any) -> None:
        if not (isinstance(cls, type) and issubclass(cls, PsaAlgorithm)):
            raise PluginError(f"plugin {plugin!r}: register() expects a PsaAlgorithm subclass, "
                              f"got {cls!r}")
        name = _check_name(cls.name, plugin, f"PSA algorithm {cls.__name__}")
        _add(cat.psa_algorithms, name, Entry("psa", name, cls, plugin, cls.summary()),
             "PSA algorithm")

    def codecs(plugin: str, codec: Any) -> None:
        name, version = getattr(codec, "name", None), getattr(codec, "version", None)
        if not isinstance(name, str) or not isinstance(version, int) or not all(
                callable(getattr(codec, m, None)) for m in ("decode", "encode")):
            raise PluginError(f"plugin {plugin!r}: a codec needs a str name, an int version, "
                              f"decode() and encode(); got {codec!r}")
        _add(cat.codecs, (name, version),
             Entry("codec", name, codec, plugin, f"{name} v{version}", {"version": version}),
             "codec")

    def readers(plugin: str, reader: Any, *, suffixes: Iterable[str], name: str = "") -> None:
        if not callable(reader):
            raise PluginError(f"plugin {plugin!r}: basis reader {reader!r} is not callable")
        suffixes = [s.lower() if s.startswith(".") else f".{s.lower()}" for s in suffixes]
        entry = Entry("basis-reader", _check_name(name or "basis-reader", plugin, "reader"),
                      reader, plugin, f"suffixes {', '.join(suffixes)}", {"suffixes": suffixes})
        for suffix in suffixes:
            _add(cat.basis_readers, suffix, entry, "basis reader for suffix")

    def conditions(plugin: str, name: Any, func: Any, *, params: Iterable[str] = ()) -> None:
        from gpsa.globallevel.trigger_conditions import TriggerCondition, check_params

        name = _check_name(name, plugin, "trigger condition")
        if not callable(func):
            raise PluginError(f"plugin {plugin!r}: trigger condition {name!r} is not callable")
        try:
            cond = TriggerCondition(name, func, check_params(name, list(params)))
        except ConfigError as exc:
            raise PluginError(f"plugin {plugin!r}: {exc}") from None
        doc = (getattr(func, "__doc__", None) or "").strip().split("\n", 1)[0]
        _add(cat.trigger_conditions, name, Entry("trigger-condition", name, cond, plugin, doc,
                                                 {"params": list(cond.params)}),
             "trigger condition")

    # Registrations are staged and checked after every hook ran, so that a third-party plugin
    # whose hook raises is skipped whole (one warning, see GpsaPluginManager.skip_broken).
    staged: list[tuple[str, Callable[..., None], tuple[Any, ...], dict[str, Any]]] = []
    broken: set[str] = set()
    for hookname, handler in (("gpsa_register_actors", actors),
                              ("gpsa_register_psa_algorithms", psa),
                              ("gpsa_register_codecs", codecs),
                              ("gpsa_register_basis_readers", readers),
                              ("gpsa_register_trigger_conditions", conditions)):
        caller = getattr(pm.hook, hookname)
        for impl in list(caller.get_hookimpls()):  # registration order: built-ins first
            if impl.plugin_name in broken:
                continue
            others = [p for p in pm.get_plugins() if p is not impl.plugin]
            sub = pm.subset_hook_caller(hookname, remove_plugins=others)
            calls: list[tuple[str, Callable[..., None], tuple[Any, ...], dict[str, Any]]] = []

            def register(*args: Any, _h: Any = handler, _p: str = impl.plugin_name,
                         _c: list[Any] = calls, **kwargs: Any) -> None:
                _c.append((_p, _h, args, kwargs))

            try:
                sub(register=register)
            except Exception as exc:  # noqa: BLE001 - a broken plugin, reported by name
                if impl.plugin_name in BUILTIN_PLUGINS:
                    raise PluginError(f"plugin {impl.plugin_name!r}: {hookname} failed: "
                                      f"{type(exc).__name__}: {exc}") from exc
                broken.add(impl.plugin_name)
                pm.skip_broken(impl.plugin_name, f"{hookname} failed: {one_line(exc)}")
                continue
            staged += calls
    for plugin, handler, args, kwargs in staged:
        if plugin not in broken:
            handler(plugin, *args, **kwargs)
    return cat


def plugin_failure(obj: object, what: str, exc: BaseException) -> PluginCallError:
    """The error for ``exc`` raised by ``what`` (e.g. ``"analyse"``) of ``obj``, an instance of
    a registered class: one line naming the class's registered name and plugin."""
    cls = obj if isinstance(obj, type) else type(obj)
    entry = next((e for e in get_catalogue().entries() if e.obj is cls), None)
    if entry is None:
        who = f"{cls.__module__}.{cls.__qualname__}"
    else:
        kind = "PSA algorithm" if entry.kind == "psa" else entry.kind
        who = f"{kind} {entry.name!r} of plugin {entry.plugin!r}"
    err = PluginCallError(f"{who}: {what} failed: {one_line(exc)}")
    if isinstance(exc, GpsaError):
        err.exit_code = exc.exit_code
    return err


_cat_lock = threading.Lock()
_catalogue: Catalogue | None = None


def get_catalogue() -> Catalogue:
    """The catalogue of the process-wide plugin manager, built on first use."""
    global _catalogue
    pm = get_plugin_manager()
    with _cat_lock:
        if _catalogue is None:
            _catalogue = build_catalogue(pm)
        return _catalogue


def reset_catalogue() -> None:
    global _catalogue
    with _cat_lock:
        _catalogue = None
