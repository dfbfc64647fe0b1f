"""Gamma-ray tracking (OFT-style): cone clustering, the best ordering of each cluster by a
Compton figure of merit, acceptance rules; efficiency and peak-to-total. ``docs/tracking.md``."""

from gpsa.tracking.efficiency import figures, first_found
from gpsa.tracking.events import TrackingCounters, track_built
from gpsa.tracking.physics import AttenuationGrid, analytic_attenuation, default_attenuation
from gpsa.tracking.tracker import Tracker, TrackingSettings, TrackResult

__all__ = ["AttenuationGrid", "TrackResult", "Tracker", "TrackingCounters", "TrackingSettings",
           "analytic_attenuation", "default_attenuation", "figures", "first_found",
           "track_built"]
