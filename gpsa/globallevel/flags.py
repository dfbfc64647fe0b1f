"""Status bits set by the global level on ``PsaEvents.status`` (a uint16 column).

The local level (:class:`gpsa.status.EventStatus`) takes bits from the bottom (bit 0 up); the
global level takes them from the top (bit 15 down), so that the two never meet while either
grows. ``tests/globallevel/test_sorter.py`` checks that no EventStatus bit is reused.
"""

from __future__ import annotations

import numpy as np

#: The frame reached the time sorter after frames with later timestamps had been emitted: it
#: is passed on out of time order (or sent to the side output), never dropped.
STATUS_LATE = 1 << 15


def is_late(status: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows whose ``status`` carries :data:`STATUS_LATE`."""
    return (np.asarray(status) & STATUS_LATE) != 0
