"""Every gpsa hook, in one place, grouped by the phase in which gpsa calls it.

A plugin is a module (or object) with functions marked ``@hookimpl`` and named like the specs
below; it is found through the ``gpsa`` entry-point group::

    [project.entry-points.gpsa]
    mlpsa = "gpsa_mlpsa.plugin"

Built-in actors are plugins too (``gpsa.plugins.manager.BUILTIN_PLUGINS``), loaded exactly like
third-party ones, so they can be blocked the same way (``GPSA_BLOCK_PLUGINS``).

**Catalogue hooks** receive a ``register`` callback instead of returning values (llm / datasette
style): the host checks what is registered (type, name, clashes) and records which plugin did it,
so a bad registration is reported with the plugin's name. Each catalogue hook is called once per
process, the first time the catalogue is needed.

**Run hooks** are notifications: every implementation is called and return values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from gpsa.runtime.stats import ChainResult

PROJECT = "gpsa"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorator for plugin implementations: ``@hookimpl def gpsa_register_actors(register): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- Phase 1: catalogue (at plugin load, before any configuration is read) --------------------

@hookspec
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    """Register actor classes: producers, filters, consumers and global actors.

    Called: once, when the catalogue is first built (``gpsa run``, ``gpsa config check``,
    ``gpsa plugins``).

    :param register: call ``register(ActorClass)`` for each class. The class must subclass one
        of :class:`gpsa.runtime.actor.Producer`, ``Filter``, ``Consumer`` or ``GlobalActor`` and
        set ``name`` (lower case letters, digits, ``-``); its settings are the
        :class:`gpsa.config.params.Param` attributes declared on it. A name already registered
        by another plugin is an error naming both plugins.
    :return: nothing.
    """


@hookspec
def gpsa_register_psa_algorithms(register: Callable[[type], None]) -> None:
    """Register PSA algorithms selectable with ``--psa NAME`` or ``algorithm = NAME``.

    Called: once, when the catalogue is first built.

    :param register: call ``register(AlgorithmClass)``; the class subclasses
        :class:`gpsa.runtime.psa_algorithm.PsaAlgorithm` (``name``, declared ``Param`` settings,
        ``setup(basis, device)``, ``analyse(block) -> PsaBlock``).
    :return: nothing.
    """


@hookspec
def gpsa_register_codecs(register: Callable[[Any], None]) -> None:
    """Register ADF frame codecs, keyed by (key name, version).

    Called: once, when the catalogue is first built.

    :param register: call ``register(codec)`` with an object following
        :class:`gpsa.adf.codecs.Codec` (``name`` such as ``"data:psa"``, ``version``,
        ``value_type``, ``decode``, ``encode``). A (name, version) pair registered twice is an
        error. The ADF actors read and write with every registered codec.
    :return: nothing.
    """


@hookspec
def gpsa_register_basis_readers(register: Callable[..., None]) -> None:
    """Register readers of signal-basis files, chosen by file suffix.

    Called: once, when the catalogue is first built.

    :param register: call ``register(reader, suffixes=(".h5",), name="gpsa-hdf5")`` where
        ``reader(path) -> gpsa.basis.model.Basis``; a suffix registered twice is an error.
    :return: nothing.
    """


@hookspec
def gpsa_register_trigger_conditions(register: Callable[..., None]) -> None:
    """Register soft-trigger conditions, selected by name in the ``trigger`` and
    ``trigger-gate`` stages (``conditions = ["fold", NAME]``: every condition must hold).

    Called: once, when the catalogue is first built.

    :param register: call ``register(name, condition, params=())``. ``condition(timestamps,
        crystals, energies, offsets, **params)`` returns one bool per built event (vectorised,
        inputs unchanged; layout in :mod:`gpsa.globallevel.trigger_conditions`); ``params``
        names the trigger settings it takes as keyword arguments (``min_fold``,
        ``min_energy_kev``, ``window``). A name registered twice is an error naming both
        plugins.
    :return: nothing.
    """


# --- Phase 2: run (per crystal chain, in the process that runs it) ------------------------------

@hookspec
def gpsa_run_start(crystal: str, config: dict[str, Any]) -> None:
    """A crystal's chain is about to start.

    Called: after the configuration was checked and the actors configured, before their
    ``start()``; in the process running the crystal (a worker process in parallel mode).

    :param crystal: crystal name, e.g. ``"00A"``.
    :param config: the resolved chain configuration (read only; as written to provenance).
    :return: nothing.
    """


@hookspec
def gpsa_run_finish(crystal: str, result: ChainResult | None, error: BaseException | None) -> None:
    """A crystal's chain has stopped (all actors flushed and stopped).

    Called: once per crystal chain, also after an error or Ctrl-C.

    :param crystal: crystal name.
    :param result: counters and timing, or None when the chain failed.
    :param error: the error that stopped the chain, or None.
    :return: nothing.
    """
