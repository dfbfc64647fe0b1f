"""Signal bases: the in-memory model (:mod:`~gpsa.basis.model`), the v1 HDF5 file format
(:mod:`~gpsa.basis.io`, specified in ``bases/README.md``), the grid index with trilinear
interpolation (:mod:`~gpsa.basis.grid`) and tiny analytic bases for tests (:mod:`~gpsa.basis.toy`).
A generated basis' settings and geometry are read back by :mod:`~gpsa.basis.provenance`.
"""
