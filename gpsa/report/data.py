"""What a report reads from a run's output folder: per crystal the PSA hits (``psa.adf``), the
provenance (``gpsa-run.json``) and, for a simulated run, the truth (``truth.h5``); at the global
level the tracked gammas (data:tracked in any ``*.adf`` of ``global/``); and the alarms of a saved
``gpsa run --json`` summary."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.block import PsaBlock
from gpsa.errors import GpsaError
from gpsa.simulate.truth import Truth

log = logging.getLogger(__name__)

RUN_FILE = "gpsa-run.json"
GLOBAL_FOLDER = "global"


@dataclass(frozen=True, eq=False)
class CrystalData:
    """One crystal's output folder, read."""

    name: str
    folder: Path
    provenance: dict[str, Any]
    psa: PsaBlock | None
    truth: Truth | None

    @property
    def stages(self) -> list[dict[str, Any]]:
        """The per-stage counters of the run (label, events, blocks, busy_seconds, ...)."""
        result = self.provenance.get("result") or {}
        return list(result.get("actors") or [])

    @property
    def lab_frame(self) -> bool:
        """Whether the hit positions are in the lab frame (post-psa ``lab_transform`` set);
        else they are in the crystal frame, as the truth and the basis are."""
        return bool(_output_name(self.provenance, "post-psa", "lab_transform", ""))

    @property
    def wall_seconds(self) -> float:
        result = self.provenance.get("result") or {}
        return float(result.get("wall_seconds") or 0.0)


@dataclass(frozen=True, eq=False)
class RunData:
    """A whole run: its crystals, the tracked gamma energies (keV; empty without a tracking
    stage) and the alarms of the run summary (empty when none was given or none fired)."""

    folder: Path
    crystals: list[CrystalData]
    tracked_energies: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    alarms: list[dict[str, Any]] = field(default_factory=list)

    @property
    def psa_blocks(self) -> list[PsaBlock]:
        """The PSA results of the crystals that have them."""
        return [c.psa for c in self.crystals if c.psa is not None]

    @property
    def has_truth(self) -> bool:
        """Whether a crystal has PSA hits and truth to compare them with (crystal frame)."""
        return any(c.truth is not None and c.psa is not None and not c.lab_frame
                   for c in self.crystals)


def _read_psa(path: Path) -> PsaBlock | None:
    if not path.exists():
        return None
    from gpsa.adf import read_all

    return read_all(path).psa


def _read_truth(path: Path) -> Truth | None:
    if not path.exists():
        return None
    from gpsa.simulate import read_truth

    return read_truth(path)


def _output_name(provenance: dict[str, Any], actor: str, setting: str, default: str) -> str:
    for stage in (provenance.get("config") or {}).get("stages") or []:
        if stage.get("actor") == actor:
            value = (stage.get("settings") or {}).get(setting)
            return str(value) if value else ""
    return default


def read_crystal(folder: Path) -> CrystalData:
    """A crystal's output folder (it holds a ``gpsa-run.json``)."""
    provenance = json.loads((folder / RUN_FILE).read_text())
    psa_name = _output_name(provenance, "adf-writer", "path", "psa.adf") or "psa.adf"
    truth_name = _output_name(provenance, "simulator", "truth", "")
    psa = _read_psa(folder / psa_name)
    truth = _read_truth(folder / truth_name) if truth_name else None
    return CrystalData(name=folder.name, folder=folder, provenance=provenance, psa=psa,
                       truth=truth)


def read_tracked_energies(folder: Path) -> np.ndarray:
    """Energies (keV) of the tracked gammas in the ``*.adf`` files of ``folder``."""
    from gpsa.adf import iter_blocks

    parts: list[np.ndarray] = []
    for path in sorted(folder.glob("*.adf")) if folder.is_dir() else []:
        for block in iter_blocks(path):
            value = block.values.get("data:tracked")
            if value is not None:
                parts.append(np.asarray(value.gammas.energy, np.float32))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def read_alarms(summary: Path | None) -> list[dict[str, Any]]:
    """The ``alarms`` of a saved ``gpsa run --json`` summary (empty list without one)."""
    if summary is None:
        return []
    data = json.loads(summary.read_text())
    return list(data.get("alarms") or []) if isinstance(data, dict) else []


def read_run(folder: Path, *, summary: Path | None = None) -> RunData:
    """Read the run in ``folder`` (the run's output folder: one sub-folder per crystal, and
    ``global/`` when a global level ran); ``summary``: a saved ``gpsa run --json`` output."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GpsaError(f"{folder}: not a folder (give a run's output folder)")
    crystal_folders = sorted(p.parent for p in folder.glob(f"*/{RUN_FILE}"))
    if (folder / RUN_FILE).exists():  # the folder of one crystal
        crystal_folders = [folder]
    if not crystal_folders:
        raise GpsaError(f"{folder}: no crystal output folder (no */{RUN_FILE}) in it")
    crystals = [read_crystal(p) for p in crystal_folders]
    log.info("report: %d crystal(s) in %s", len(crystals), folder)
    return RunData(folder=folder, crystals=crystals,
                   tracked_energies=read_tracked_energies(folder / GLOBAL_FOLDER),
                   alarms=read_alarms(summary))
