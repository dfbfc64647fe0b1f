"""Energy recalibration by a polynomial ``E' = c0 + c1·E + c2·E² + …``. Config example::

    recalibration = [0.0, 1.0005]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def recalibrate(energy: np.ndarray, coefficients: Sequence[float]) -> np.ndarray:
    """float32 polynomial of ``energy`` (identity when ``coefficients`` is empty)."""
    if not coefficients:
        return np.asarray(energy, np.float32).copy()
    return np.polynomial.polynomial.polyval(np.asarray(energy, np.float64),
                                            list(coefficients)).astype(np.float32)
