"""Checks of :class:`~gpsa.basis.fields.settings.GeneratorSettings` fields (types, ranges,
choices), each failure a one-line :class:`~gpsa.errors.ConfigError` naming the setting."""

from __future__ import annotations

import os
from typing import Any

from gpsa.errors import ConfigError

#: Settings applied to the crystal geometry (None = the geometry's own value).
GEOMETRY_KEYS = ("ring_depths", "sector_boundary", "sector_direction", "hole_radius",
                 "hole_depth", "hole_bottom_radius", "hole_opening_radius", "hole_opening_depth",
                 "outer_contact_mm", "core_contact_mm")
GEOMETRY_CHOICES = {"sector_boundary": ("corners", "edges"),
                    "sector_direction": ("increasing", "decreasing")}


def plain(value: Any) -> Any:
    """``ring_depths`` as JSON/TOML-able data (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [float(v) for v in value]
    return value


def check_geometry(s: Any) -> None:
    """Types and ranges of the geometry settings that can be checked without a geometry."""
    from gpsa.detector.segmentation import resolve_ring_depths

    if s.ring_depths is not None:
        table = s.ring_depths if isinstance(s.ring_depths, dict) else {"": s.ring_depths}
        try:
            resolved = {k: resolve_ring_depths(v) for k, v in table.items()}
        except ConfigError as exc:
            raise ConfigError(f"generator setting 'ring_depths': {exc}") from None
        object.__setattr__(s, "ring_depths", resolved if isinstance(s.ring_depths, dict)
                           else resolved[""])
    for name, choices in GEOMETRY_CHOICES.items():
        value = getattr(s, name)
        if value is not None and value not in choices:
            raise ConfigError(f"generator setting {name!r} must be one of {choices}, "
                              f"got {value!r}")
    for name in GEOMETRY_KEYS[3:]:
        if getattr(s, name) is not None:  # a bore of size 0 would leave the core no electrode
            number(s, name, lo=0.0, strict=name in ("hole_radius", "hole_depth"))


def check_response(s: Any) -> None:
    """The electronics-response settings: ``shaping_ns`` ≥ 0, ``shaping_stages`` ≥ 1, the
    ``impulse_response`` file's name (the file itself is read when the signals are made) and
    its ``impulse_response_period_ns`` > 0."""
    number(s, "shaping_ns", lo=0.0)
    stages = s.shaping_stages
    if isinstance(stages, bool) or not isinstance(stages, int) or stages < 1:
        raise ConfigError(f"generator setting 'shaping_stages' must be an integer >= 1, "
                          f"got {stages!r}")
    path = s.impulse_response
    if path is not None:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or not path:
            raise ConfigError(f"generator setting 'impulse_response' must be a file name, "
                              f"got {s.impulse_response!r}")
        object.__setattr__(s, "impulse_response", path)
    if s.impulse_response_period_ns is not None:
        number(s, "impulse_response_period_ns", lo=0.0, strict=True)


def number(s: Any, name: str, lo: float | None = None, strict: bool = False) -> None:
    """``getattr(s, name)`` as a finite float (≥ / > ``lo``), set back on the frozen ``s``."""
    value = getattr(s, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"generator setting {name!r} must be a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"generator setting {name!r} must be finite, got {value!r}")
    if lo is not None and (value < lo or (strict and value == lo)):
        relation = ">" if strict else ">="
        raise ConfigError(f"generator setting {name!r} must be {relation} {lo:g}, got {value!r}")
    object.__setattr__(s, name, float(value))
