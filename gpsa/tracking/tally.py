"""Running photopeak / peak-to-total counts of a stream of tracked blocks, for the ``tracking``
actor's summary: constant memory (per spectrum and line, the peak counts; per spectrum, the
entries at or above the threshold), the same numbers as :func:`gpsa.tracking.efficiency.figures`
on the whole spectra.

Spectra per built event block: ``crystal sum`` (each crystal event's hit energies), ``event
sum`` (each event's), ``tracked`` (the gamma energies). Hits with a non-finite energy are left
out of the sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.errors import ConfigError
from gpsa.tracking.efficiency import LineFigures, peak_counts

SPECTRA = ("crystal sum", "event sum", "tracked")


def transport_lines(path: str | Path) -> tuple[list[float], int]:
    """The source lines (keV) and the number of decays of a ``gpsa transport`` file (its
    attributes only; every line is emitted once per decay)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != "gpsa-transport":
                raise ConfigError(f"{path}: not a gpsa transport file")
            lines = np.asarray(f.attrs["lines_kev"], np.float64).reshape(-1).tolist()
            return lines, int(f.attrs["n_decays"])
    except (OSError, KeyError) as exc:
        raise ConfigError(f"{path}: not a readable transport file ({exc})") from None


@dataclass
class LineTally:
    """Peak and total counts of the three spectra for ``lines_kev``; ``emitted`` gammas per
    line (None: efficiencies unknown, P/T still counted)."""

    lines_kev: Sequence[float]
    emitted: int | None = None
    window_kev: float = 3.0
    threshold_kev: float = 10.0
    peaks: dict[str, list[int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.peaks = {s: [0] * len(self.lines_kev) for s in SPECTRA}
        self.totals = dict.fromkeys(SPECTRA, 0)

    def add(self, name: str, energies: np.ndarray) -> None:
        e = np.asarray(energies, np.float64)
        e = e[np.isfinite(e)]
        for i, line in enumerate(self.lines_kev):
            self.peaks[name][i] += peak_counts(e, float(line), self.window_kev)
        self.totals[name] += int(np.count_nonzero(e >= self.threshold_kev))

    def add_built(self, built: Any, tracked_energies: np.ndarray) -> None:
        """One block of built events (:class:`gpsa.globallevel.events.BuiltEvents`) and the
        energies of its tracked gammas."""
        hits = built.crystals.hits
        e = hits.energy.astype(np.float64)
        ok = np.isfinite(e)
        self.add("crystal sum", np.bincount(hits.event_index[ok], e[ok],
                                            minlength=len(built.crystals))[
            np.bincount(hits.event_index, minlength=len(built.crystals)) > 0])
        ev = np.repeat(np.arange(len(built)), built.sizes)[hits.event_index]
        self.add("event sum", np.bincount(ev[ok], e[ok], minlength=len(built))[
            np.bincount(ev, minlength=len(built)) > 0])
        self.add("tracked", tracked_energies)

    def figures(self) -> list[LineFigures]:
        out = []
        for name in SPECTRA:
            total = self.totals[name]
            pt = sum(self.peaks[name]) / total if total else float("nan")
            for line, pk in zip(self.lines_kev, self.peaks[name], strict=True):
                n = self.emitted or 0
                out.append(LineFigures(name, float(line), pk, n, pk / n if n else float("nan"),
                                       pt, total))
        return out

    def report(self) -> dict[str, Any]:
        """For the summary JSON: settings and one row per spectrum and line (NaN as null)."""
        rows = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                 for k, v in vars(r).items()} for r in self.figures()]
        return {"lines_kev": [float(x) for x in self.lines_kev], "emitted_per_line":
                self.emitted, "window_kev": self.window_kev, "threshold_kev":
                self.threshold_kev, "figures": rows}
