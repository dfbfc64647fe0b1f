"""Reading back how a generated basis was made: its generator settings and crystal geometry.

:func:`gpsa.basis.generate.generate_basis` records both in the basis' ``generator`` attribute
(JSON; keys ``settings`` and ``geometry``), which the basis file keeps. These functions rebuild
the objects, so that a basis can be regenerated, or events simulated, with exactly its physics::

    basis = load_basis("bases/basis_A.h5")
    geometry, settings = basis_geometry(basis), basis_settings(basis)
"""

from __future__ import annotations

import json
from typing import Any

from gpsa.basis.fields.crystal import SEGMENTATION_KEYS, SHAPE_NUMBERS
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.model import Basis
from gpsa.detector.segmentation import CrystalGeometry
from gpsa.detector.shape import CrystalShape
from gpsa.errors import ConfigError

__all__ = ["basis_geometry", "basis_settings", "geometry_from_fingerprint", "provenance"]


def provenance(basis: Basis) -> dict[str, Any]:
    """The ``generator`` attribute as a dict; a :class:`ConfigError` if it is not gpsa's."""
    try:
        meta = json.loads(basis.generator) if basis.generator else {}
    except json.JSONDecodeError:
        meta = {}
    if meta.get("generator") != "gpsa.basis.generate":
        raise ConfigError(f"basis {basis.source or '<memory>'} was not made by "
                          f"gpsa.basis.generate (no generator provenance)")
    return meta


def basis_settings(basis: Basis) -> GeneratorSettings:
    """The :class:`GeneratorSettings` a generated basis was made with."""
    return GeneratorSettings.from_dict(provenance(basis)["settings"])


def basis_geometry(basis: Basis) -> CrystalGeometry:
    """The :class:`CrystalGeometry` a generated basis was made with (the generator settings'
    geometry values already applied)."""
    return geometry_from_fingerprint(provenance(basis)["geometry"])


def geometry_from_fingerprint(data: dict[str, Any]) -> CrystalGeometry:
    """Inverse of :func:`gpsa.basis.fields.crystal.geometry_fingerprint` for a
    :class:`CrystalGeometry` (keys missing from older bases take their defaults)."""
    try:
        shape = CrystalShape(front=data["front"], back=data["back"],
                             **{k: data[k] for k in SHAPE_NUMBERS if k in data})
        return CrystalGeometry(shape, ring_depths=data["ring_depths"], order=data["order"],
                               **{k: data[k] for k in SEGMENTATION_KEYS if k in data})
    except KeyError as exc:
        raise ConfigError(f"basis geometry provenance lacks {exc.args[0]!r}") from None
