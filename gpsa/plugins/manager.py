"""The plugin manager: loads built-in and installed plugins, the same way.

* Built-in plugins are the modules in :data:`BUILTIN_PLUGINS`, registered under their module
  name; third-party plugins come from the ``gpsa`` entry-point group, registered under the entry
  point's name. Both can be blocked by name (``GPSA_BLOCK_PLUGINS=mlpsa,gpsa.actors.root``).
* ``GPSA_DISABLE_PLUGIN_AUTOLOAD=1`` skips the entry points (tests); plugins can still be added
  with :func:`get_plugin_manager(extra=...)`.
* ``GPSA_TRACE_HOOKS=1`` logs every hook call and its result (logger ``gpsa.plugins.trace``,
  level INFO: use ``gpsa -v``).
* After loading, ``check_pending()`` rejects an implementation whose name matches no hookspec
  (a misspelled hook), naming the plugin.
* A third-party plugin that cannot be loaded (its entry point raises on import, pluggy refuses
  it, or ``check_pending()`` finds a misspelled hook in it) does not stop gpsa: one warning
  names it and ``GPSA_BLOCK_PLUGINS``, and it is skipped (recorded in
  :attr:`GpsaPluginManager.skipped`). So is one whose catalogue hook raises (see
  :mod:`gpsa.plugins.catalogue`). A broken *built-in* plugin is a gpsa bug and an error.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

import pluggy

from gpsa.errors import GpsaError
from gpsa.plugins import hookspecs

log = logging.getLogger(__name__)
trace_log = logging.getLogger("gpsa.plugins.trace")

ENTRY_POINT_GROUP = "gpsa"
#: Modules registered as plugins before the entry points (the built-in actors and algorithms).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "gpsa.actors.formats",
    "gpsa.actors.adf_io",
    "gpsa.actors.simulator",
    "gpsa.actors.preprocess",
    "gpsa.actors.psa",
    "gpsa.actors.postpsa",
    "gpsa.actors.root_out",
    "gpsa.actors.summary",
    "gpsa.actors.redis_io",
    "gpsa.actors.sorter",
    "gpsa.actors.builder",
    "gpsa.actors.ancillary",
    "gpsa.actors.trigger",
    "gpsa.actors.event_writer",
    "gpsa.actors.tracking",
)

ENV_DISABLE_AUTOLOAD = "GPSA_DISABLE_PLUGIN_AUTOLOAD"
ENV_TRACE = "GPSA_TRACE_HOOKS"
ENV_BLOCK = "GPSA_BLOCK_PLUGINS"


class PluginError(GpsaError):
    """A plugin failed to load or registered something invalid; names the plugin."""

    exit_code = 2


class PluginCallError(GpsaError):
    """A plugin's code raised while a run used it (e.g. a PSA algorithm's ``analyse``); the
    message names the plugin. Exit code: the original error's when it is a GpsaError, else 1."""


class GpsaPluginManager(pluggy.PluginManager):
    """pluggy's manager plus the distribution (name, version) of each entry-point plugin and
    the plugins skipped because they are broken (name -> the one-line reason)."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.distributions: dict[str, tuple[str, str]] = {}
        self.skipped: dict[str, str] = {}
        #: names of the plugins registered from entry points (third-party)
        self.entry_point_names: set[str] = set()

    def skip_broken(self, name: str, problem: str) -> None:
        """Skip the broken plugin ``name`` (unregister it if registered) with one warning."""
        plugin = self.get_plugin(name)
        if plugin is not None:
            self.unregister(plugin, name=name)
        self.entry_point_names.discard(name)
        self.distributions.pop(name, None)
        problem = problem.strip().splitlines()[0] if problem.strip() else "broken"
        self.skipped[name] = problem
        log.warning("plugin %r skipped: %s (block it with %s=%s to silence this)", name,
                    problem, ENV_BLOCK, name)


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` of an exception."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


_lock = threading.Lock()
_pm: GpsaPluginManager | None = None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def blocked_names() -> set[str]:
    """Plugin names blocked through ``GPSA_BLOCK_PLUGINS`` (comma separated)."""
    return {n.strip() for n in os.environ.get(ENV_BLOCK, "").split(",") if n.strip()}


def create_plugin_manager(*, builtins: Iterable[str] = BUILTIN_PLUGINS,
                          extra: Iterable[Any] = (), autoload: bool | None = None,
                          blocked: Iterable[str] = ()) -> GpsaPluginManager:
    """A new, fully loaded and checked plugin manager.

    :param builtins: module names registered first (under their own name).
    :param extra: further plugin objects or modules (tests), registered after the built-ins.
    :param autoload: load the ``gpsa`` entry points; default: unless
        ``GPSA_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param blocked: plugin names never registered, beside those in ``GPSA_BLOCK_PLUGINS``.
    """
    pm = GpsaPluginManager()
    for name in set(blocked) | blocked_names():
        pm.set_blocked(name)
    if _env_flag(ENV_TRACE):
        pm.trace.root.setwriter(lambda text: trace_log.info(text.rstrip()))
        pm.enable_tracing()
    for modname in builtins:
        if pm.is_blocked(modname):
            log.info("built-in plugin %s blocked", modname)
            continue
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:
            raise PluginError(f"built-in plugin {modname}: cannot import: {exc}") from exc
        pm.register(module, name=modname)
    for plugin in extra:
        pm.register(plugin)
    if autoload if autoload is not None else not _env_flag(ENV_DISABLE_AUTOLOAD):
        _load_entry_points(pm)
    while True:
        try:
            pm.check_pending()
            return pm
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin)
            if name not in pm.entry_point_names:
                raise PluginError(f"plugin {exc.plugin!r}: {exc} (block it with "
                                  f"{ENV_BLOCK}=NAME)") from exc
            pm.skip_broken(name, str(exc))


def _load_entry_points(pm: GpsaPluginManager) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a third-party plugin
            pm.skip_broken(ep.name, f"cannot load {ep.value}: {one_line(exc)}")
            continue
        try:
            pm.register(plugin, name=ep.name)
        except (pluggy.PluginValidationError, ValueError) as exc:  # ValueError: already there
            pm.skip_broken(ep.name, f"cannot register {ep.value}: {one_line(exc)}")
            continue
        pm.entry_point_names.add(ep.name)
        dist = getattr(ep, "dist", None)
        if dist is not None:
            pm.distributions[ep.name] = (dist.metadata["name"], dist.version)
        log.info("loaded plugin %s from %s", ep.name, ep.value)


def get_plugin_manager() -> GpsaPluginManager:
    """The process-wide plugin manager, created on first use."""
    global _pm
    with _lock:
        if _pm is None:
            _pm = create_plugin_manager()
        return _pm


def reset_plugin_manager(pm: GpsaPluginManager | None = None) -> None:
    """Forget the process-wide manager (and its catalogue), or install ``pm`` (tests)."""
    global _pm
    from gpsa.plugins import catalogue

    with _lock:
        _pm = pm
    catalogue.reset_catalogue()


def plugin_info(pm: GpsaPluginManager) -> list[dict[str, Any]]:
    """Installed plugins: name, built-in or not, distribution and version, implemented hooks."""
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist, version = pm.distributions.get(name, (None, None))
        out.append({
            "name": name,
            "builtin": name in BUILTIN_PLUGINS,
            "module": getattr(plugin, "__name__", type(plugin).__name__),
            "distribution": dist,
            "version": version,
            "hooks": hooks,
        })
    return out
