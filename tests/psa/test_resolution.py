"""A first position-resolution figure without an inverse crime (issue 3).

A plain numpy grid search (``backend="reference"``, p = 0.3, full search, no refinement) over a
small physical basis (gpsa's generator, AGATA shape A, 6 mm grid, 3 mm field grid), on events
computed by the generator at continuous random positions with *different* settings (2 mm field
grid, impurity +10 %, preamp τ 38 ns instead of 35), by the same helpers as the PSA benchmark's
``real`` source (:mod:`gpsa.bench.sources`). Reported: median 3D error and per-axis FWHM
(robust, 2.355 × 1.4826 × MAD, :func:`gpsa.bench.accuracy.error_stats`).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gpsa.basis.generate import GeneratorSettings, generate_basis
from gpsa.basis.model import Basis
from gpsa.bench.accuracy import error_stats
from gpsa.bench.sources import TRACE_T0, physics_events, settings_diff
from gpsa.bench.toy import Truth
from gpsa.block import CrystalBlock
from gpsa.detector.segmentation import CrystalGeometry
from gpsa.psa import GridSearchPSA, PsaSettings

log = logging.getLogger(__name__)

BASIS_GRID_MM = 6.0
BASIS_SETTINGS = GeneratorSettings(field_grid_mm=3.0)
#: How the events differ from the searched basis (as the benchmark's EVENT_SETTINGS_CHANGES,
#: scaled to a test: a finer field grid, impurity +10 %, τ 38 ns).
EVENT_CHANGES = {"field_grid_mm": 2.0,
                 "impurity_a": 1.1 * BASIS_SETTINGS.impurity_a,
                 "impurity_b": 1.1 * BASIS_SETTINGS.impurity_b,
                 "preamp_tau_ns": 38.0}
N_EVENTS = 400
NOISE = 0.01

# Measured here (400 events, 1 % noise, seed 5 as below): median 3D 3.78 mm, FWHM (x, y, z) =
# (6.54, 6.77, 6.55) mm, 34 % beyond 5 mm; a random basis point of the hit segment: median
# 15.6 mm. Seeds 1-4: median 3.62-4.10 mm, FWHM 5.5-7.1 mm. The 6 mm grid dominates: a uniform
# error over a 6 mm cell alone gives a median 3D distance of 2.95 mm and a per-axis FWHM (from
# the MAD) of 5.2 mm, and events from the basis' own settings gave about the same (3.88 mm,
# 6.5-6.7 mm) -- at 6 mm the physics mismatch is below the grid's resolution. Bounds: the
# measured figures plus ~25 % margin.
MAX_MEDIAN_3D_MM = 5.0
MAX_FWHM_MM = 9.0


@pytest.fixture(scope="module")
def geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")


@pytest.fixture(scope="module")
def field_cache(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return tmp_path_factory.mktemp("fields")


@pytest.fixture(scope="module")
def physical_basis(geometry: CrystalGeometry, field_cache) -> Basis:  # noqa: ANN001
    return generate_basis(geometry, BASIS_GRID_MM, BASIS_SETTINGS, cache_dir=field_cache)


@pytest.fixture(scope="module")
def other_physics_events(geometry: CrystalGeometry, field_cache  # noqa: ANN001
                         ) -> tuple[CrystalBlock, Truth]:
    return physics_events(geometry, BASIS_SETTINGS.replace(**EVENT_CHANGES), N_EVENTS, NOISE,
                          seed=5, cache_dir=field_cache)


def test_events_are_not_from_the_searched_physics() -> None:
    diff = settings_diff(BASIS_SETTINGS, BASIS_SETTINGS.replace(**EVENT_CHANGES))
    assert set(diff) == {"field_grid_mm", "impurity_a", "impurity_b", "preamp_tau_ns"}


def test_resolution_numpy_grid_search(physical_basis: Basis, other_physics_events,  # noqa: ANN001
                                      record_property) -> None:  # noqa: ANN001
    basis = physical_basis
    block, truth = other_physics_events
    settings = PsaSettings(backend="reference", p=0.3, search="full",
                           samples=min(40, basis.n_samples - basis.t0_sample),
                           default_t0=TRACE_T0)
    out = GridSearchPSA(basis, settings).run(block)
    assert len(out.hits) == len(block)
    assert np.array_equal(out.hits.event_index, np.arange(len(block)))
    assert np.array_equal(out.hits.segment, truth.segment)  # the hit segment is found
    found = np.stack([out.hits.x, out.hits.y, out.hits.z], axis=1)
    stats = error_stats(found - truth.position)

    # Control: a random basis point of the (correct) hit segment, i.e. what the segmentation
    # alone tells; the search must do far better, or the test has no teeth.
    rng = np.random.default_rng(0)
    guess = np.empty_like(truth.position)
    for seg in np.unique(truth.segment):
        rows = np.flatnonzero(truth.segment == seg)
        pts = np.flatnonzero(basis.segment == seg)
        guess[rows] = basis.positions[rng.choice(pts, rows.size)]
    random_median = float(np.median(np.linalg.norm(guess - truth.position, axis=1)))

    log.info("resolution (numpy grid search, p=0.3, %g mm basis, events from other settings "
             "%s, %d events, %g noise): median 3D %.2f mm, FWHM x/y/z %.2f/%.2f/%.2f mm, "
             "outliers >5 mm %.1f %%; random point of the segment: median %.1f mm",
             BASIS_GRID_MM, EVENT_CHANGES, len(block), NOISE, stats["median_3d_mm"],
             stats["fwhm_x_mm"], stats["fwhm_y_mm"], stats["fwhm_z_mm"],
             stats["outliers_5mm_pct"], random_median)
    for key, value in stats.items():
        record_property(key, round(value, 3))
    record_property("random_segment_point_median_3d_mm", round(random_median, 3))

    assert stats["median_3d_mm"] < MAX_MEDIAN_3D_MM
    for axis in "xyz":
        assert stats[f"fwhm_{axis}_mm"] < MAX_FWHM_MM
    assert stats["median_3d_mm"] < 0.4 * random_median
