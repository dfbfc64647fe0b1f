"""Private kernels of the PSA backends (numba CPU, numba.cuda, CUDA C source). The public API is
in :mod:`gpsa.psa`; nothing here validates its input."""
