"""Fixtures for the detector tests: gpsa's synthetic geometry and the public AGATA tables.

The public tables live next to the repository in ``../shared/data/agata/`` (never copied into
the project); tests that need them skip with a reason when they are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpsa.detector import CrystalGeometry

AGATA_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "agata"
AGATA_FILES = {
    "asolid": "agata_capsule.geo",
    "aclust": "agata_cluster.geo",
    "aeuler": "agata_euler.geo",
    "crmat": "GANIL_AGATA_crmat.dat",
}


@pytest.fixture(scope="session")
def agata() -> dict[str, Path]:
    """Paths of the public AGATA geometry tables; skips the test when any is missing."""
    paths = {key: AGATA_DATA / name for key, name in AGATA_FILES.items()}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        pytest.skip(f"public AGATA geometry tables {', '.join(missing)} not found in "
                    f"{AGATA_DATA} (../shared/data/agata/ next to the repository)")
    return paths


@pytest.fixture(scope="session")
def default_geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")
