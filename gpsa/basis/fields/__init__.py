"""Physics of the basis generator: fields on a finite-difference grid, charge drift, induced
signals and the detector response. One algorithm per module:

* :mod:`~.grid` — node classification, Shortley–Weller curved boundaries, signed distance;
  :mod:`~.crystal` — the electrodes of a segmented crystal on that grid.
* :mod:`~.sor` — red–black SOR kernel; :mod:`~.multilevel` — coarse-to-fine acceleration;
  :mod:`~.extend` — ghost values beyond the surface; :mod:`~.interp` — trilinear interpolation.
* :mod:`~.poisson` — electric potential and field; :mod:`~.weighting` — 37 weighting potentials;
  :mod:`~.solve` — both for a crystal, with the on-disk cache.
* :mod:`~.mobility` — drift velocities along a lattice axis; :mod:`~.anisotropy` — their
  direction dependence in the lattice (numpy twin :mod:`~.anisotropy_ref`); :mod:`~.drift` —
  carrier paths;
  :mod:`~.induction` — Shockley–Ramo; :mod:`~.diffusion` — charge-cloud size and diffusion;
  :mod:`~.response` — preamp, shaping, cross-talk, sampling; :mod:`~.impulse` — a measured
  impulse response.
* :mod:`~.settings` — :class:`GeneratorSettings` (checks in :mod:`~.settings_checks`); numba
  options in :mod:`~._jit`.

The public entry point is :func:`gpsa.basis.generate.generate_basis`.
"""
