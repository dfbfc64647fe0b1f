"""gpsa: pulse-shape analysis for segmented HPGe detectors (AGATA, GRETA).

Importing :mod:`gpsa` is cheap and never imports CuPy; the GPU backend is loaded only when a
CUDA device is asked for (see :mod:`gpsa.device`).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
