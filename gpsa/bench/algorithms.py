"""Registered PSA algorithms beside the grid search, for ``gpsa bench``.

Every PSA algorithm registered through ``gpsa_register_psa_algorithms`` (built-in or from an
installed plugin such as gpsa-mlpsa; found through the process-wide plugin manager), other than
the built-in ``grid-search``, is run with its default settings on the very events of the grid
search's speed table. Each gives one row:

* ``setup_s``: wall time of the construction and ``setup(basis, device)`` — the training time of
  an algorithm that trains on the basis — reported apart from the analysis speed;
* ``events_per_s`` / ``searches_per_s``: best of ``repeat`` timed ``analyse`` calls on all the
  events, after a warm-up on 32 events (JIT compilation). A "search" is one hit segment, as in
  the grid-search table (single-interaction events: one hit each); None without hits;
* ``speed_vs_grid_search``: events/s over those of the grid search with its default settings
  (numba, full search, p = 2, rank 64) on the same events;
* ``accuracy``: :func:`gpsa.bench.accuracy.error_stats` of the hits against the truth (median 3D
  error, per-axis FWHM, outliers > 5 mm) plus ``hits_per_event``; the grid search's accuracy on the
  same events is the first row (``name = "grid-search"``).

An algorithm that fails (construction, setup or analysis) gives a row with ``error`` set instead
of aborting the bench.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpsa.basis.model import Basis
from gpsa.bench.accuracy import error_stats
from gpsa.bench.benchmark import Case
from gpsa.bench.toy import Truth
from gpsa.block import CrystalBlock, PsaBlock
from gpsa.device import Device
from gpsa.psa.settings import PsaSettings

log = logging.getLogger(__name__)

GRID_SEARCH = "grid-search"
#: The grid-search configuration the algorithms are compared with (PsaSettings defaults).
BASELINE = Case("numba", "full", 0.3)
WARMUP_EVENTS = 32


def available_algorithms() -> dict[str, Any]:
    """Catalogue entries of the registered PSA algorithms other than the grid search, by name."""
    from gpsa.plugins.catalogue import get_catalogue

    return {n: e for n, e in sorted(get_catalogue().psa_algorithms.items()) if n != GRID_SEARCH}


def select_algorithms(names: Sequence[str] | None) -> list[str]:
    """The algorithms to run: all registered ones (``names`` None) or ``names`` (checked: an
    unknown name is a :class:`gpsa.errors.ConfigError` naming the known ones). ``grid-search``
    is dropped: it is always measured."""
    from gpsa.plugins.catalogue import get_catalogue

    if names is None:
        return list(available_algorithms())
    cat = get_catalogue()
    out: list[str] = []
    for name in names:
        cat.psa_algorithm(name, "--psa")  # ConfigError with the known names
        if name != GRID_SEARCH and name not in out:
            out.append(name)
    return out


def hit_errors(out: PsaBlock, truth: Truth) -> np.ndarray:
    """(hits, 3) found − true position of every hit (single-interaction events)."""
    pos = np.stack([out.hits.x, out.hits.y, out.hits.z], axis=1).astype(np.float64)
    return pos - truth.position[np.asarray(out.hits.event_index)]


def accuracy(out: PsaBlock, truth: Truth, n_events: int) -> dict[str, float] | None:
    if not len(out.hits):
        return None
    err = hit_errors(out, truth)
    ok = np.all(np.isfinite(err), axis=1)
    if not ok.any():
        return None
    return {**error_stats(err[ok]), "hits_per_event": float(ok.sum() / max(n_events, 1))}


def _timed(fn: Any, block: CrystalBlock, repeat: int) -> tuple[float, PsaBlock]:
    fn(block.take(slice(0, min(WARMUP_EVENTS, len(block)))))
    best, out = np.inf, None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        out = fn(block)
        best = min(best, time.perf_counter() - t)
    assert out is not None
    return best, out


def baseline_row(basis: Basis, block: CrystalBlock, truth: Truth, *, base: PsaSettings,
                 device: Device, repeat: int, speed_rows: Sequence[dict[str, Any]] = ()
                 ) -> dict[str, Any]:
    """The grid search with its default settings on the events: speed (taken from the speed
    table's row when it has one) and accuracy."""
    from gpsa.psa.engine import GridSearchPSA

    psa = GridSearchPSA(basis, BASELINE.settings(base), device=device)
    row = next((r for r in speed_rows if r.get("label") == BASELINE.label), None)
    if row is None:
        seconds, out = _timed(psa.run, block, repeat)
        events_per_s, n_hits = len(block) / seconds, len(out.hits)
        searches_per_s = n_hits / seconds
    else:
        out = psa.run(block)
        events_per_s, searches_per_s = row["events_per_s"], row["searches_per_s"]
        seconds = row["seconds"]
    from gpsa.plugins.catalogue import get_catalogue

    entry = get_catalogue().psa_algorithms.get(GRID_SEARCH)
    return {"name": GRID_SEARCH, "plugin": entry.plugin if entry else "gpsa.actors.psa",
            "distribution": None, "version": None, "settings": {"label": BASELINE.label},
            "device": "cpu",
            "error": None, "setup_s": None, "seconds": seconds, "events": len(block),
            "hits": len(out.hits), "events_per_s": events_per_s,
            "searches_per_s": searches_per_s, "speed_vs_grid_search": 1.0,
            "accuracy": accuracy(out, truth, len(block))}


def algorithm_row(name: str, basis: Basis, block: CrystalBlock, truth: Truth, *,
                  device: Device, repeat: int, baseline_events_per_s: float) -> dict[str, Any]:
    """One registered algorithm, default settings, on the events (see the module docstring)."""
    from gpsa.plugins.catalogue import get_catalogue
    from gpsa.plugins.manager import get_plugin_manager

    entry = get_catalogue().psa_algorithms[name]
    dist, version = get_plugin_manager().distributions.get(entry.plugin, (None, None))
    cls = entry.obj
    dev = device.kind if device.kind in cls.devices else "cpu"
    row: dict[str, Any] = {"name": name, "plugin": entry.plugin, "distribution": dist,
                           "version": version, "settings": {}, "device": dev, "error": None,
                           "setup_s": None, "seconds": None, "events": len(block), "hits": None,
                           "events_per_s": None, "searches_per_s": None,
                           "speed_vs_grid_search": None, "accuracy": None}
    impl = None
    stage = "construction"
    try:
        t = time.perf_counter()
        impl = cls()
        row["settings"] = {k: getattr(impl, k) for k in cls.params()}
        stage = "setup"
        impl.setup(basis, dev)
        row["setup_s"] = time.perf_counter() - t
        stage = "analyse"
        seconds, out = _timed(impl.analyse, block, repeat)
        if len(out.events) != len(block):
            raise ValueError(f"analyse returned {len(out.events)} events for {len(block)}")
        row.update(seconds=seconds, hits=len(out.hits), events_per_s=len(block) / seconds,
                   searches_per_s=len(out.hits) / seconds if len(out.hits) else None,
                   speed_vs_grid_search=(len(block) / seconds) / baseline_events_per_s,
                   accuracy=accuracy(out, truth, len(block)))
    except Exception as exc:  # noqa: BLE001 - a failing plugin is reported, not fatal
        row["error"] = f"{stage}: {type(exc).__name__}: {exc}".replace("\n", " ")
        log.warning("PSA algorithm %r (plugin %r) failed in %s: %s", name, entry.plugin, stage,
                    exc)
    finally:
        if impl is not None:
            try:
                impl.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("PSA algorithm %r: close() failed: %s", name, exc)
    log.info("%s: %s", name, row)
    return row


def algorithm_rows(basis: Basis, block: CrystalBlock, truth: Truth, names: Sequence[str], *,
                   base: PsaSettings, device: Device, repeat: int,
                   speed_rows: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The grid-search baseline row, then one row per algorithm of ``names``."""
    if not names:
        return []
    base_row = baseline_row(basis, block, truth, base=base, device=device, repeat=repeat,
                            speed_rows=speed_rows)
    return [base_row] + [algorithm_row(n, basis, block, truth, device=device, repeat=repeat,
                                       baseline_events_per_s=base_row["events_per_s"])
                         for n in names]
