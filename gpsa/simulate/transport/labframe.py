"""The transport geometry's crystal → lab placement as a crmat table (``*_AGATA_crmat.dat``,
read by :func:`gpsa.detector.transforms.load_crmat`), so that post-PSA
(``lab_transform = ...``) moves PSA hits into the frame of the transport's ``lab_x/y/z``:
``x_lab = R·x + T`` with the rotations the geometry composed (:mod:`.geometry`).

A crmat table numbers crystals 0..n−1 without gaps; crystals absent from a subset geometry
(vacuum in the transport, so never hit) get the identity and a comment saying so.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gpsa.detector.transforms import LabTransform

from .geometry import ArrayGeometry


def lab_transform(geometry: ArrayGeometry) -> LabTransform:
    """The placement indexed by crystal id (0..max id; identity where a crystal is absent)."""
    n = int(geometry.crystal_ids.max()) + 1
    rot = np.tile(np.eye(3), (n, 1, 1))
    tr = np.zeros((n, 3))
    rot[geometry.crystal_ids] = geometry.transform.rotations
    tr[geometry.crystal_ids] = geometry.transform.translations
    return LabTransform(rot, tr, source=f"{geometry.source} (crystal -> lab)")


def crmat_text(geometry: ArrayGeometry) -> str:
    """The crmat table of :func:`lab_transform` (``id 0 Tx Ty Tz`` then ``k r_k1 r_k2 r_k3``)."""
    tf = lab_transform(geometry)
    present = set(geometry.crystal_ids.tolist())
    out = [f"# crystal -> lab of {geometry.source}: x_lab = R x + T (mm); written by gpsa"]
    for cid in range(len(tf)):
        if cid not in present:
            out.append(f"# crystal {cid}: not in the geometry (identity)")
        t = tf.translations[cid]
        out.append(f"{cid} 0 {t[0]:.6f} {t[1]:.6f} {t[2]:.6f}")
        for k, row in enumerate(tf.rotations[cid], start=1):
            out.append(f"{k} {row[0]:.9f} {row[1]:.9f} {row[2]:.9f}")
    return "\n".join(out) + "\n"


def write_crmat(path: str | os.PathLike[str], geometry: ArrayGeometry) -> Path:
    """Write :func:`crmat_text` to ``path``; returns it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(crmat_text(geometry))
    return out
