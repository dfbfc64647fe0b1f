"""Anisotropic drift velocities of electrons and holes in germanium (the ADL model).

Germanium's drift velocity depends on the field's direction in the cubic lattice. The model is
the one of the AGATA Detector Library, in the form implemented by SolidStateDetectors.jl
(``ADLChargeDriftModel``, MIT licence; read from ``src/ChargeDriftModels/ADLChargeDriftModel/
ADLChargeDriftModel.jl``). Both carriers are built on the measured longitudinal velocities
along <100> and <111>, each a Caughey–Thomas curve (:mod:`~.mobility`), ``V100(E)``, ``V111(E)``.

**Electrons** (Mihailescu et al., NIM A 447 (2000) 350): the conduction band has 4 L valleys
along the <111> directions with inverse effective-mass tensors
``γ_j = mt⁻¹·I + (ml⁻¹ − mt⁻¹)·u_j u_jᵀ`` (``u_j`` the valley axis, ``ml = 1.64``,
``mt = 0.0819`` electron masses: SolidStateDetectors.jl ``MaterialProperties.jl``, HPGe). With
``e = E/|E|`` and ``w_j = (e·γ_j e)^(−1/2)`` the velocity is::

    v = A(E) · Σ_j n_j · w_j · γ_j e,   n_j = R(E)·(w_j/Σw − 1/4) + 1/4

where ``n_j`` is the valley population (inter-valley repopulation ``R``), ``A = Γ0·V100`` and
``R = Γ1·V111/A + Γ2``; ``Γ0 = ((2 mt⁻¹ + ml⁻¹)/3)^(−1/2)``, ``Γ1``, ``Γ2`` follow from the
masses (:func:`electron_constants`) so that ``v`` is ``V100`` along <100> and ``V111`` along
<111> by construction.

**Holes** (Bruyneel et al., NIM A 569 (2006) 764, eqs. 22–26, as adjusted in
SolidStateDetectors.jl): with the field at polar angles (θ, φ) in the lattice frame and
``vrel = V111/V100``, ``Λ = 0.75·(1 − vrel)``, ``Ω = Σ_k p_k (1 − vrel)^k`` (``p = −0.29711,
−1.12082, 3.83929, 4.80825``, HPGe)::

    v_r = V100·(1 − Λ·(sin⁴θ sin²2φ + sin²2θ))
    v_θ = V100·Ω·2·(sin³θ cosθ sin²2φ + sin2θ cos2θ)
    v_φ = V100·Ω·2·sin³θ sin2φ cos2φ

(radial, polar and azimuthal components), again ``V100`` along <100> and ``V111`` along <111>.

**Lattice orientation**: the crystal's <001> axis is its z axis (the cylinder axis, as in
SolidStateDetectors.jl's ``phi110`` convention) and <100> lies at ``lattice_angle_deg`` from
the crystal frame's x axis, counter-clockwise seen from the front (SolidStateDetectors.jl's
``phi110`` is this angle − 45°).

The kernels take a packed float64 vector (:func:`carrier_model`): the <100> curve in slots 0–3
(so ``params[:4]`` is also the isotropic model), the <111> curve in 4–7, the kind in 8 and the
geometry after it. :func:`velocity_reference` is the numpy twin used by the tests.
"""

from __future__ import annotations

import math

import numpy as np

from gpsa.basis.fields._jit import JIT
from gpsa.basis.fields.mobility import CarrierMobility

#: Longitudinal and transverse electron effective masses in Ge (units of m_e), from
#: SolidStateDetectors.jl ``src/MaterialProperties/MaterialProperties.jl`` (HPGe).
ML, MT = 1.64, 0.0819
#: Ω(vrel) polynomial of the hole model (HPGe), SolidStateDetectors.jl ``ADLChargeDriftModel.jl``.
OMEGA = (-0.29711, -1.12082, 3.83929, 4.80825)
#: Λ(vrel) = LAMBDA·(1 − vrel), ibid.
LAMBDA = 0.75
ISOTROPIC, ELECTRON_ADL, HOLE_ADL = 0, 1, 2
KIND_SLOT = 8
_CM_PER_S = 1e-8  # cm/s → mm/ns


def electron_constants(ml: float = ML, mt: float = MT) -> tuple[float, float, float]:
    """``(Γ0, Γ1, Γ2)`` of the electron model for masses ``ml``, ``mt`` (units of m_e)."""
    ml_inv, mt_inv = 1.0 / ml, 1.0 / mt
    tmp = math.sqrt(8.0 * mt_inv + ml_inv) / 3.0
    g0 = 1.0 / math.sqrt((2.0 * mt_inv + ml_inv) / 3.0)
    g1 = (-4.0 * math.sqrt(ml_inv) - 4.0 / 3.0 * tmp) / (math.sqrt(ml_inv) - tmp) ** 2
    g2 = g1 * (math.sqrt(ml_inv) + 3.0 * tmp) / -4.0
    return g0, g1, g2


def lattice_rotation(lattice_angle_deg: float) -> np.ndarray:
    """``(3, 3)`` rotation taking crystal-frame vectors to the lattice frame (<100>, <010>,
    <001>): a rotation by ``−lattice_angle_deg`` about z."""
    a = math.radians(lattice_angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def valley_tensors(rotation: np.ndarray, ml: float = ML, mt: float = MT) -> np.ndarray:
    """``(4, 3, 3)`` inverse mass tensors of the 4 L valleys in the crystal frame."""
    axes = np.array([[1, 1, 1], [-1, 1, 1], [-1, -1, 1], [1, -1, 1]], dtype=np.float64)
    axes /= math.sqrt(3.0)
    lat = np.array([np.eye(3) / mt + (1.0 / ml - 1.0 / mt) * np.outer(u, u) for u in axes])
    return np.einsum("ai,jab,bk->jik", rotation, lat, rotation)


def carrier_model(kind: int, c100: CarrierMobility, c111: CarrierMobility,
                  lattice_angle_deg: float) -> np.ndarray:
    """Packed kernel parameters of one carrier (``kind`` ELECTRON_ADL or HOLE_ADL)."""
    rot = lattice_rotation(lattice_angle_deg)
    head = [*c100.as_array(), *c111.as_array(), float(kind)]
    if kind == ELECTRON_ADL:
        tail = [*electron_constants(), *valley_tensors(rot).ravel()]
    elif kind == HOLE_ADL:
        tail = [*rot.ravel(), *OMEGA, LAMBDA]
    else:
        raise ValueError(f"unknown anisotropic carrier kind {kind}")
    return np.array(head + tail, dtype=np.float64)


@JIT
def _curve(p: np.ndarray, o: int, e: float) -> float:  # pragma: no cover - numba
    """Caughey–Thomas curve at slots ``o..o+3`` for ``e`` in V/cm (cm/s)."""
    mu0, e0, beta, mun = p[o], p[o + 1], p[o + 2], p[o + 3]
    return mu0 * e / math.pow(1.0 + math.pow(e / e0, beta), 1.0 / beta) - mun * e


@JIT
def adl_velocity(p: np.ndarray, ex: float, ey: float, ez: float, out: np.ndarray
                 ) -> float:  # pragma: no cover - numba
    """Velocity (mm/ns, along +E for a positive mobility) for the field (V/mm) into ``out``;
    returns its magnitude."""
    mag = math.sqrt(ex * ex + ey * ey + ez * ez)
    out[0] = out[1] = out[2] = 0.0
    if mag == 0.0:
        return 0.0
    e_cm = 10.0 * mag
    v100 = _curve(p, 0, e_cm) * _CM_PER_S
    v111 = _curve(p, 4, e_cm) * _CM_PER_S
    ux, uy, uz = ex / mag, ey / mag, ez / mag
    if p[KIND_SLOT] == ELECTRON_ADL:
        a_e = p[9] * v100
        r_e = p[10] * v111 / a_e + p[11]
        total = 0.0
        for j in range(4):
            g = p[12 + 9 * j:21 + 9 * j]
            q = (ux * (g[0] * ux + g[1] * uy + g[2] * uz) + uy * (g[3] * ux + g[4] * uy + g[5] * uz)
                 + uz * (g[6] * ux + g[7] * uy + g[8] * uz))
            total += 1.0 / math.sqrt(q)
        for j in range(4):
            g = p[12 + 9 * j:21 + 9 * j]
            gx = g[0] * ux + g[1] * uy + g[2] * uz
            gy = g[3] * ux + g[4] * uy + g[5] * uz
            gz = g[6] * ux + g[7] * uy + g[8] * uz
            w = 1.0 / math.sqrt(ux * gx + uy * gy + uz * gz)
            f = a_e * (r_e * (w / total - 0.25) + 0.25) * w
            out[0] += f * gx
            out[1] += f * gy
            out[2] += f * gz
    else:
        r = p[9:18]
        tx = r[0] * ux + r[1] * uy + r[2] * uz
        ty = r[3] * ux + r[4] * uy + r[5] * uz
        tz = r[6] * ux + r[7] * uy + r[8] * uz
        rho = math.sqrt(tx * tx + ty * ty)
        st, ct = rho, tz
        cp, sp = (tx / rho, ty / rho) if rho > 0.0 else (1.0, 0.0)
        s2p, c2p = 2.0 * sp * cp, cp * cp - sp * sp
        s2t, c2t = 2.0 * st * ct, ct * ct - st * st
        x = 1.0 - v111 / v100
        lam = p[22] * x
        om = x * (p[18] + x * (p[19] + x * (p[20] + x * p[21])))
        vr = v100 * (1.0 - lam * (st ** 4 * s2p * s2p + s2t * s2t))
        vt = v100 * om * 2.0 * (st ** 3 * ct * s2p * s2p + s2t * c2t)
        vp = v100 * om * 2.0 * st ** 3 * s2p * c2p
        lx = vr * st * cp + vt * ct * cp - vp * sp
        ly = vr * st * sp + vt * ct * sp + vp * cp
        lz = vr * ct - vt * st
        out[0] = r[0] * lx + r[3] * ly + r[6] * lz
        out[1] = r[1] * lx + r[4] * ly + r[7] * lz
        out[2] = r[2] * lx + r[5] * ly + r[8] * lz
    return math.sqrt(out[0] * out[0] + out[1] * out[1] + out[2] * out[2])
