"""Status bits carried by blocks (``CrystalBlock.status``, ``PsaEvents.status``,
``PsaEvents.psa_status``, ``PsaHits.status``). 0 means good."""

from __future__ import annotations

import enum


class EventStatus(enum.IntFlag):
    """Bits of ``CrystalBlock.status`` / ``PsaEvents.status``."""

    OK = 0
    SATURATED = 1 << 0  # a channel hit the ADC range
    PILEUP = 1 << 1  # more than one trigger in the trace
    NO_T0 = 1 << 2  # T0 could not be found
    DEAD_SEGMENT = 1 << 3  # a dead/missing segment was replaced or masked
    REJECTED = 1 << 4  # rejected by a filter (soft trigger, too many hit segments, ...)
    CORRUPT = 1 << 5  # decoded from a damaged frame


class PsaStatus(enum.IntFlag):
    """Bits of ``PsaEvents.psa_status`` and ``PsaHits.status``."""

    OK = 0
    NOT_ANALYSED = 1 << 0  # PSA did not run on this event (rejected before)
    TOO_MANY_SEGMENTS = 1 << 1  # more hit segments than the configured limit
    NO_NET_CHARGE = 1 << 2  # no segment above the net-charge threshold
    COARSE_ONLY = 1 << 3  # searched on the coarse grid only (low-energy secondary segment)
    NOT_CONVERGED = 1 << 4  # multi-segment loop did not settle
