"""Built-in plugin: the ``tracking`` global actor (OFT-style gamma-ray tracking).

Reads :class:`gpsa.globallevel.events.BuiltEvents` (event:data:psa, the event builder's output)
or the AGATA part of :class:`gpsa.globallevel.events.MergedEvents` (event:data) and emits
:class:`gpsa.adf.codecs.tracked.TrackedBlock` (data:tracked), one tracked event per event.
Algorithm, settings and counters: ``docs/tracking.md``. A global stage::

    actor = "tracking"
    alpha_deg = 10.0
    max_cluster = 8
    positions = "lab"                 # post-PSA already transformed them; or "crystal" with
    # lab_transform = "GANIL_AGATA_crmat.dat"
    position_resolution_mm = 5.0
    min_fom = 0.05
    inner_radius_mm = 235.0           # the array's inner radius: turns the depth rule on
    lines_kev = [1173.2, 1332.5]      # optional: efficiency / P/T before and after tracking
    emitted_per_line = 100000         #   in the summary (or transport = "co60.h5": both
                                      #   from a `gpsa transport` file)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gpsa.config.params import Param
from gpsa.errors import ConfigError
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, GlobalActor, RunContext

log = logging.getLogger(__name__)


def _load_crmat(path: Path) -> Any:
    from gpsa.detector.transforms import load_crmat

    return load_crmat(path)


def _transport_lines(path: Path) -> Any:
    from gpsa.tracking.tally import transport_lines

    return transport_lines(path)


class TrackingActor(GlobalActor):
    """Gamma-ray tracking (OFT-style: cones, then the best ordering per cluster)."""

    name = "tracking"
    input_readers = {"lab_transform": _load_crmat, "transport": _transport_lines}
    alpha_deg = Param(float, 10.0, "cone half-angle of the clustering around the source->hit "
                      "direction, degrees", min=0.1, max=180.0)
    max_cluster = Param(int, 8, "most points per cluster (all orderings are scored)", min=1,
                        max=10)
    rule = Param(str, "link", "clustering: 'seed' (within alpha of the cluster's most energetic "
                 "hit) or 'link' (within alpha of any member)", choices=("seed", "link"))
    position_resolution_mm = Param(float, 5.0, "position resolution of the hits (mm); sets the "
                                   "angular error of the Compton-angle comparison", min=0.0)
    angle_floor_deg = Param(float, 2.0, "angular error added in quadrature (degrees)", min=0.0)
    min_fom = Param(float, 0.05, "clusters of 2+ points with a lower figure of merit are "
                    "rejected", min=0.0, max=1.0)
    single_min_kev = Param(float, 10.0, "single-point clusters below this energy are rejected",
                           min=0.0)
    single_max_kev = Param(float, 20000.0, "single-point clusters above this energy are "
                           "rejected", min=0.0)
    single_min_probability = Param(float, 0.05, "single points the gamma reaches with a lower "
                                   "probability exp(-mu(E) depth) are rejected", min=0.0,
                                   max=1.0)
    inner_radius_mm = Param(float, None, "inner radius of the germanium shell around the "
                            "source (mm): depth = distance - radius; unset: depth rule off and "
                            "the first leg counted from the cluster's shallowest point", min=0.0)
    source_mm = Param(list[float], [0.0, 0.0, 0.0], "source position x, y, z (lab, mm)")
    positions = Param(str, "lab", "frame of the hit positions in data:psa: 'lab' (post-PSA "
                      "transformed them) or 'crystal' (use lab_transform)",
                      choices=("lab", "crystal"))
    lab_transform = Param(Path, None, "crmat table: crystal -> lab, when positions = 'crystal'",
                          kind="input")
    lines_kev = Param(list[float], [], "source lines (keV): the summary then gives photopeak "
                      "efficiency and P/T before tracking (crystal and event sums) and after")
    emitted_per_line = Param(int, None, "gammas emitted per line, for the efficiencies (unset: "
                             "from transport, else P/T only)", min=1)
    transport = Param(Path, None, "a `gpsa transport` file: lines_kev (unless set) and "
                      "emitted_per_line (its decays, unless set) from its attributes",
                      kind="input")
    window_kev = Param(float, 3.0, "peak window of the efficiency table, +- keV", min=0.0)
    threshold_kev = Param(float, 10.0, "P/T counts the entries from this energy (keV)",
                          min=0.0)

    def _checked(self) -> None:
        if self.positions == "crystal" and not self.lab_transform:
            raise ConfigError("tracking: positions = 'crystal' needs lab_transform (a crmat "
                              "table)")
        if len(self.source_mm) != 3:
            raise ConfigError(f"tracking.source_mm: expected 3 numbers, got "
                              f"{len(self.source_mm)}")

    def check(self, context: RunContext) -> list[str]:
        self._checked()
        return super().check(context)

    def start(self, context: RunContext) -> None:
        from gpsa.tracking.events import TrackingCounters
        from gpsa.tracking.tracker import Tracker, TrackingSettings

        super().start(context)
        self._checked()
        self.lab = _load_crmat(self.lab_transform) if self.positions == "crystal" else None
        self.tracker = Tracker(TrackingSettings(
            alpha_deg=self.alpha_deg, max_cluster=self.max_cluster, rule=self.rule,
            position_resolution_mm=self.position_resolution_mm,
            angle_floor_deg=self.angle_floor_deg, min_fom=self.min_fom,
            single_min_kev=self.single_min_kev, single_max_kev=self.single_max_kev,
            single_min_probability=self.single_min_probability,
            inner_radius_mm=self.inner_radius_mm,
            source_mm=tuple(float(v) for v in self.source_mm)))  # type: ignore[arg-type]
        self.totals = TrackingCounters()
        self.tally = self._tally()
        log.info("tracking: attenuation from %s", self.tracker.grid.source)

    def _tally(self) -> Any:
        from gpsa.tracking.tally import LineTally, transport_lines

        lines, emitted = list(self.lines_kev), self.emitted_per_line
        if self.transport:
            file_lines, decays = transport_lines(self.transport)
            lines = lines or file_lines
            emitted = emitted if emitted is not None else decays
        if not lines:
            return None
        return LineTally(lines, emitted, self.window_kev, self.threshold_kev)

    def process(self, block: Block, source: str = "") -> Iterable[Block]:
        from gpsa.globallevel.events import BuiltEvents, MergedEvents
        from gpsa.tracking.events import agata_part, track_built

        if not isinstance(block, BuiltEvents | MergedEvents):
            raise ConfigError(f"tracking: expects built events (event:data:psa) or merged "
                              f"events (event:data), got {type(block).__name__}")
        built = agata_part(block)
        if not len(built):
            return []
        out, _, counts = track_built(built, self.tracker, self.lab)
        self.totals.add(counts)
        if self.tally is not None:
            self.tally.add_built(built, out.gammas.energy)
        return [out]

    def counters(self) -> dict[str, int]:
        totals = getattr(self, "totals", None)
        return {} if totals is None else totals.as_dict()

    def report(self) -> dict[str, Any] | None:
        """The efficiency / P/T table (see :mod:`gpsa.tracking.tally`) when the lines are
        known, else None."""
        tally = getattr(self, "tally", None)
        return None if tally is None else {"efficiency": tally.report()}

    def stop(self) -> None:
        totals = getattr(self, "totals", None)
        if totals is not None:
            for line in totals.lines():
                log.info("tracking: %s", line)
        tally = getattr(self, "tally", None)
        if tally is not None:
            from gpsa.tracking.efficiency import format_table

            for line in format_table(tally.figures()):
                log.info("tracking: %s", line)


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(TrackingActor)
