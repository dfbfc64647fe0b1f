"""The bench's real source reuses a cached basis only when it was made as it would be now."""

from __future__ import annotations

import json

import pytest

from gpsa.basis.generate import GeneratorSettings, generate_basis
from gpsa.basis.model import Basis
from gpsa.bench.sources import same_generation
from gpsa.detector.segmentation import CrystalGeometry

SETTINGS = GeneratorSettings(field_grid_mm=3.0)


@pytest.fixture(scope="module")
def made() -> tuple[Basis, CrystalGeometry]:
    geometry = CrystalGeometry.default("A")
    return generate_basis(geometry, 8.0, SETTINGS), geometry


def test_same_settings_and_geometry_reuse(made: tuple[Basis, CrystalGeometry]) -> None:
    basis, geometry = made
    assert same_generation(basis, geometry, SETTINGS)


def test_changed_default_regenerates(made: tuple[Basis, CrystalGeometry]) -> None:
    basis, geometry = made
    assert not same_generation(basis, geometry, SETTINGS.replace(sampling="point"))
    assert not same_generation(basis, CrystalGeometry.default("B"), SETTINGS)


def test_basis_from_older_code_regenerates(made: tuple[Basis, CrystalGeometry]) -> None:
    basis, geometry = made
    old = json.loads(basis.generator)
    del old["settings"]["sampling"]  # as written before the sampling setting existed
    assert not same_generation(basis.replace(generator=json.dumps(old)), geometry, SETTINGS)
    assert not same_generation(basis.replace(generator="not json"), geometry, SETTINGS)
