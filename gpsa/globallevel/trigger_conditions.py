"""Soft-trigger conditions: which built events the trigger accepts.

A **condition** is a callable on the built events of one push, all crystals mixed::

    condition(timestamps, crystals, energies, offsets, **params) -> bool[n_events]

``timestamps`` (uint64, 10 ns ticks, non-decreasing), ``crystals`` (uint16 crystal ids) and
``energies`` (float32 keV, the fast path's estimate) are the records of the events, one row per
crystal event; event ``k`` is rows ``offsets[k]:offsets[k+1]`` (int64 CSR offsets, as
:func:`gpsa.globallevel.window.event_offsets` makes them). It returns one bool per event and
must be vectorised (numpy over all events, no loop over events) and must not change its inputs.
``params`` are the trigger settings the condition declared when it was registered
(:data:`CONDITION_PARAMS`): the built-ins take ``min_fold`` and ``min_energy_kev``.

Built-in conditions (registered by the ``gpsa.actors.trigger`` plugin):

* ``fold`` — at least ``min_fold`` distinct crystals in the event (AGATA's "fold >= k");
* ``energy-sum`` — the event's summed energy estimate is at least ``min_energy_kev``.

The window that makes the events (``window`` ticks, rule ``fixed`` or ``sliding``) is the
trigger's, shared by every condition. A plugin adds its own through the
``gpsa_register_trigger_conditions(register)`` hook::

    @hookimpl
    def gpsa_register_trigger_conditions(register):
        register("two-clusters", two_clusters, params=("min_fold",))

and a run selects them by name (``conditions = ["fold", "two-clusters"]``: all must hold).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.errors import ConfigError
from gpsa.globallevel.window import fold

#: ``condition(timestamps, crystals, energies, offsets, **params) -> bool per event``
Condition = Callable[..., np.ndarray]

#: Trigger settings a condition may ask for (keyword arguments), with their meaning.
CONDITION_PARAMS: dict[str, str] = {
    "min_fold": "distinct crystals an event needs (k)",
    "min_energy_kev": "summed energy estimate an event needs, keV (E)",
    "window": "the coincidence window, ticks",
}


def fold_condition(timestamps: np.ndarray, crystals: np.ndarray, energies: np.ndarray,
                   offsets: np.ndarray, *, min_fold: int) -> np.ndarray:
    """Events with at least ``min_fold`` distinct crystals."""
    return fold(crystals, offsets) >= min_fold


def energy_sums(energies: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Summed energy of each event (float64, ``n_events``; 0 for an empty event); NaN
    estimates count as 0."""
    n_events = offsets.shape[0] - 1
    if energies.shape[0] == 0:
        return np.zeros(n_events)
    e = np.nan_to_num(energies.astype(np.float64), nan=0.0)
    cum = np.concatenate([[0.0], np.cumsum(e)])
    return cum[offsets[1:]] - cum[offsets[:-1]]


def energy_sum_condition(timestamps: np.ndarray, crystals: np.ndarray, energies: np.ndarray,
                         offsets: np.ndarray, *, min_energy_kev: float) -> np.ndarray:
    """Events whose summed energy estimate is at least ``min_energy_kev``."""
    return energy_sums(energies, offsets) >= min_energy_kev


@dataclass(frozen=True)
class TriggerCondition:
    """A registered condition: its name, the callable and the trigger settings it takes."""

    name: str
    func: Condition
    params: tuple[str, ...] = ()

    def __call__(self, timestamps: np.ndarray, crystals: np.ndarray, energies: np.ndarray,
                 offsets: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
        """The condition's answer, checked: one bool per event."""
        n_events = offsets.shape[0] - 1
        out = np.asarray(self.func(timestamps, crystals, energies, offsets,
                                   **{p: settings[p] for p in self.params}))
        if out.shape != (n_events,):
            raise ConfigError(f"trigger condition {self.name!r} returned shape {out.shape} for "
                              f"{n_events} events (one bool per event expected)")
        return out.astype(bool, copy=False)


def check_params(name: str, params: Sequence[str]) -> tuple[str, ...]:
    """``params`` as a tuple, each one of :data:`CONDITION_PARAMS` (ConfigError otherwise)."""
    bad = [p for p in params if p not in CONDITION_PARAMS]
    if bad:
        raise ConfigError(f"trigger condition {name!r}: unknown parameter(s) {', '.join(bad)} "
                          f"(known: {', '.join(CONDITION_PARAMS)})")
    return tuple(params)


#: The built-in conditions, registered by ``gpsa.actors.trigger``.
BUILTIN_CONDITIONS: tuple[TriggerCondition, ...] = (
    TriggerCondition("fold", fold_condition, ("min_fold",)),
    TriggerCondition("energy-sum", energy_sum_condition, ("min_energy_kev",)),
)


def all_of(conditions: Sequence[TriggerCondition], timestamps: np.ndarray,
           crystals: np.ndarray, energies: np.ndarray, offsets: np.ndarray,
           settings: Mapping[str, Any]) -> np.ndarray:
    """Events for which every condition holds (every event when there is none)."""
    keep = np.ones(offsets.shape[0] - 1, bool)
    for c in conditions:
        keep &= c(timestamps, crystals, energies, offsets, settings)
    return keep
