"""``gpsa geometry``: inspect crystal shapes, segmentation and crystal → lab transforms.

Sub-commands::

    gpsa geometry show  [--asolid FILE --shape A] [--rings 8,13,15,18,18,18] [--order O] [--json]
    gpsa geometry lab   (--euler FILE --cluster FILE | --crmat FILE) [--crystal 00A]
                        [--point X Y Z] [--rotate-z DEG] [--json]
    gpsa geometry check --euler FILE --cluster FILE --crmat FILE [--tol 1e-3] [--json]

``check`` fits the global rotation about the beam axis between the Euler-built transform and the
crmat table and reports the largest remaining deviation (exit code 1 above ``--tol``).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from gpsa.cli.output import print_json, print_line, print_table
from gpsa.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("geometry", help="crystal shape, segments, lab transforms",
                                   description="Inspect crystal shapes, segmentation and "
                                   "crystal → lab transforms.")
    sub = parser.add_subparsers(dest="geometry_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))

    show = sub.add_parser("show", help="volume, ring depths, segment volumes and centres")
    show.add_argument("--asolid", metavar="FILE", help="A180 asolid table (default: gpsa's "
                      "synthetic shapes)")
    show.add_argument("--shape", default="A", help="shape A, B or C (default A)")
    show.add_argument("--rings", metavar="D1,...,D6",
                      help="ring thicknesses front to back, mm (default 8,13,15,18,18,18)")
    show.add_argument("--order", default="sector-major", help="sector-major or ring-major")
    show.add_argument("--step", type=float, default=1.0,
                      help="grid step (mm) for segment volumes and centres (default 1)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)

    lab = sub.add_parser("lab", help="crystal → lab rotation and translation")
    _add_transform_args(lab)
    lab.add_argument("--crmat", metavar="FILE", help="*_AGATA_crmat.dat table")
    lab.add_argument("--crystal", help="crystal name (00A) or id (default: all crystals)")
    lab.add_argument("--point", nargs=3, type=float, metavar=("X", "Y", "Z"),
                     help="also transform this crystal-frame point (mm) to the lab")
    lab.add_argument("--rotate-z", type=float, default=0.0, metavar="DEG",
                     help="rotate the lab about the beam axis afterwards (degrees)")
    lab.add_argument("--json", action="store_true", help="print JSON")
    lab.set_defaults(func=_lab)

    check = sub.add_parser("check", help="compare Euler tables with a crmat table")
    _add_transform_args(check)
    check.add_argument("--crmat", metavar="FILE", required=True, help="*_AGATA_crmat.dat table")
    check.add_argument("--tol", type=float, default=1e-3,
                       help="largest allowed deviation after the fitted rotation (default 1e-3)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=_check)


def _add_transform_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--euler", metavar="FILE", help="A180 aeuler table (cluster placements)")
    parser.add_argument("--cluster", metavar="FILE", help="A180 aclust table (crystals in a "
                        "cluster)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _show(args: argparse.Namespace) -> int:
    from gpsa.detector import AGATA_RING_DEPTHS, CrystalGeometry

    kw: dict[str, Any] = {"order": args.order, "ring_depths": AGATA_RING_DEPTHS}
    if args.rings:
        try:
            kw["ring_depths"] = tuple(float(v) for v in args.rings.split(","))
        except ValueError:
            raise ConfigError(f"--rings: expected comma-separated numbers, got {args.rings!r}")\
                from None
    if args.asolid:
        geom = CrystalGeometry.from_asolid(args.asolid, args.shape, **kw)
    else:
        geom = CrystalGeometry.default(args.shape, **kw)
    shape = geom.shape
    volumes = geom.segment_volumes_cm3(args.step)
    centres = geom.segment_centres(args.step)
    segments = []
    for seg in range(len(volumes)):
        sector, ring = geom.sector_ring(seg)
        segments.append({"segment": seg, "name": geom.segment_name(seg), "sector": int(sector),
                         "ring": int(ring), "volume_cm3": round(float(volumes[seg]), 3),
                         "centre_mm": [round(float(c), 2) for c in centres[seg]]})
    info = {"source": args.asolid or "gpsa synthetic default", "shape": shape.name,
            "length_mm": shape.length, "radius_mm": shape.radius,
            "hole_radius_mm": shape.hole_radius, "hole_depth_mm": shape.hole_depth,
            "volume_cm3": round(shape.volume_cm3(), 3),
            "segments_sum_cm3": round(float(volumes.sum()), 3), "grid_step_mm": args.step,
            "ring_depths_mm": list(geom.ring_depths), "order": geom.order,
            "front_corners_mm": shape.front.round(3), "back_corners_mm": shape.back.round(3),
            "segments": segments}
    if args.json:
        print_json(info)
        return 0
    print_line(f"crystal shape {shape.name} ({info['source']}): length {shape.length:g} mm, "
               f"cylinder radius {shape.radius:g} mm, bore {shape.hole_radius:g} mm × "
               f"{shape.hole_depth:g} mm")
    print_line(f"volume {info['volume_cm3']:.2f} cm3 (segments on a {args.step:g} mm grid: "
               f"{info['segments_sum_cm3']:.2f} cm3); rings "
               f"{', '.join(f'{d:g}' for d in geom.ring_depths)} mm; order {geom.order}")
    print_table("segments", ["seg", "name", "sector", "ring", "volume cm3", "x", "y", "z"],
                [[s["segment"], s["name"], s["sector"], s["ring"], f"{s['volume_cm3']:.2f}",
                  *(f"{c:.1f}" for c in s["centre_mm"])] for s in segments])
    return 0


def _load_transform(args: argparse.Namespace):
    from gpsa.detector import load_crmat, transform_from_euler

    euler = bool(args.euler or args.cluster)
    if getattr(args, "crmat", None) and euler:
        raise ConfigError("give either --euler and --cluster or --crmat, not both")
    if euler:
        if not (args.euler and args.cluster):
            raise ConfigError("--euler and --cluster go together")
        return transform_from_euler(args.euler, args.cluster)
    if not getattr(args, "crmat", None):
        raise ConfigError("give --euler FILE --cluster FILE or --crmat FILE")
    return load_crmat(args.crmat)


def _lab(args: argparse.Namespace) -> int:
    from gpsa.detector import crystal_name, parse_crystal

    tf = _load_transform(args)
    if args.rotate_z:
        tf = tf.rotated_z(args.rotate_z)
    n_clusters = (len(tf) + 2) // 3
    ids = [parse_crystal(args.crystal, n_clusters)] if args.crystal else range(len(tf))
    if ids and max(ids) >= len(tf):
        raise ConfigError(f"crystal {args.crystal} not in {tf.source} ({len(tf)} crystals)")
    rows = []
    for cid in ids:
        row: dict[str, Any] = {"id": cid, "name": crystal_name(cid, n_clusters),
                               "rotation": tf.rotations[cid].round(6),
                               "translation_mm": tf.translations[cid].round(4)}
        if args.point is not None:
            row["point_lab_mm"] = tf.to_lab(cid, np.array(args.point)).round(4)
        rows.append(row)
    if args.json:
        print_json({"source": tf.source, "rotate_z_deg": args.rotate_z, "crystals": rows})
        return 0
    columns = ["id", "name", "Tx", "Ty", "Tz", "R row 1", "R row 2", "R row 3"]
    if args.point is not None:
        columns.append("point in lab")
    table = []
    for r in rows:
        line = [r["id"], r["name"], *(f"{t:.3f}" for t in r["translation_mm"]),
                *(" ".join(f"{v:+.5f}" for v in rrow) for rrow in r["rotation"])]
        if args.point is not None:
            line.append(" ".join(f"{v:.3f}" for v in r["point_lab_mm"]))
        table.append(line)
    print_table(f"crystal → lab ({tf.source})", columns, table)
    return 0


def _check(args: argparse.Namespace) -> int:
    from gpsa.detector import fit_global_rotation_z, load_crmat, transform_from_euler

    if not (args.euler and args.cluster):
        raise ConfigError("check needs --euler, --cluster and --crmat")
    euler = transform_from_euler(args.euler, args.cluster)
    crmat = load_crmat(args.crmat)
    angle = fit_global_rotation_z(euler, crmat)
    d_rot, d_tr = euler.rotated_z(angle).deviation(crmat)
    ok = max(d_rot, d_tr) <= args.tol
    result = {"euler": args.euler, "cluster": args.cluster, "crmat": args.crmat,
              "crystals": len(crmat), "fitted_rotation_z_deg": round(angle, 6),
              "max_rotation_deviation": d_rot, "max_translation_deviation_mm": d_tr,
              "tolerance": args.tol, "agree": ok}
    if args.json:
        print_json(result)
    else:
        print_line(f"{len(crmat)} crystals: fitted rotation about z {angle:.4f} deg; largest "
                   f"deviation after it: rotation {d_rot:.2g}, translation {d_tr:.2g} mm "
                   f"({'agree' if ok else 'DISAGREE'} within {args.tol:g})")
    return 0 if ok else 1
