"""Grid-search pulse-shape analysis (see :mod:`gpsa.psa.engine` for the input convention).

Public API: :class:`GridSearchPSA` and :class:`PsaSettings`. Backends: :mod:`gpsa.psa.reference`
(numpy, the readable truth), :mod:`gpsa.psa.cpu` (numba), :mod:`gpsa.psa.gpu` (array-module host
code + numba.cuda / CUDA C kernels). Importing this package never imports CuPy.
"""

from gpsa.psa.engine import GridSearchPSA
from gpsa.psa.settings import PsaSettings

__all__ = ["GridSearchPSA", "PsaSettings"]
