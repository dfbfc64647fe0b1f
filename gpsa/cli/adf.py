"""``gpsa adf`` commands: ``dump`` (what an ADF file holds) and ``make-example`` (a small synthetic
file).

``dump`` says whether the file is **complete**: not empty, readable to the end, and closed by a
meta:eof frame (gpsa writes it only at the end of a complete run). Exit codes: 0 complete;
1 corrupt (it prints what it read before the problem, then the one-line error naming file, byte
offset and frame, on stderr) or incomplete (empty, or no meta:eof at the end: one line on stderr
saying so); 2 usage error."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import numpy as np

from gpsa.cli.output import print_json, print_line, print_table

DEFAULT_FIRST = 10
AGATA_EOF = 0xFA001100  # meta:eof in AGATA's key table


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("adf", help="ADF (AGATA Data Flow) files: dump, make an example")
    adf_sub = parser.add_subparsers(dest="adf_command", metavar="ADF_COMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))

    dump = adf_sub.add_parser("dump", help="frame counts per key, timestamps, first frames")
    dump.add_argument("file", help="ADF file")
    dump.add_argument("--json", action="store_true", help="print JSON instead of tables")
    dump.add_argument("--first", type=int, default=DEFAULT_FIRST, metavar="N",
                      help=f"list the first N frames (default {DEFAULT_FIRST})")
    dump.add_argument("--keys", metavar="KEYFILE",
                      help="key table file ('name value [vN]' lines; default: AGATA keys)")
    dump.add_argument("--resync", action="store_true",
                      help="on corrupt input skip to the next plausible frame and go on")
    dump.set_defaults(func=cmd_dump)

    make = adf_sub.add_parser("make-example", help="write a small synthetic ADF file")
    make.add_argument("file", help="output file")
    make.add_argument("--events", type=int, default=8, help="crystal events (default 8)")
    make.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    make.set_defaults(func=cmd_make_example)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


class _Summary:
    """Collects what ``dump`` reports while the blocks stream by."""

    def __init__(self, first: int) -> None:
        self.first = max(first, 0)
        self.rows: list[dict[str, Any]] = []
        self.key_values: dict[str, int] = {}
        self.ts_min: int | None = None
        self.ts_max: int | None = None
        self.last_key: str | None = None
        self.last_value = self.eof_value = -1

    def add(self, block: Any) -> None:
        hdr, labels = block.headers, block.keys
        for k in np.unique(hdr["key"]).tolist():
            self.key_values.setdefault(labels.label(k), k)
        names = [labels.label(k) for k in hdr["key"].tolist()] if len(hdr) else []
        if names:
            self.last_key, self.last_value = names[-1], int(hdr["key"][-1])
            self.eof_value = _eof_value(labels)
        # timestamps of data and event frames (conf/meta frames often carry 0)
        timed = np.array([n.startswith(("data:", "event:")) for n in names], bool)
        if timed.any():
            ts = hdr["timestamp"][timed]
            lo, hi = int(ts.min()), int(ts.max())
            self.ts_min = lo if self.ts_min is None else min(self.ts_min, lo)
            self.ts_max = hi if self.ts_max is None else max(self.ts_max, hi)
        for i in range(min(self.first - len(self.rows), len(hdr))):
            self.rows.append({"offset": int(block.offsets[i]), "key": names[i],
                              "length": int(hdr["length"][i]),
                              "event_number": int(hdr["event_number"][i]),
                              "timestamp": int(hdr["timestamp"][i])})

    def incomplete(self, stats: Any, error: Exception | None) -> str | None:
        """Why the file is not complete, or None when it is."""
        if error is not None:
            return "unreadable to the end"
        if stats.n_frames == 0 and stats.skipped_bytes == 0:
            return "empty file (0 frames)"
        if self.last_value != self.eof_value:
            return (f"no meta:eof frame at the end (last frame: {self.last_key or 'none'}); the "
                    "run that wrote it did not complete, or it is still writing")
        return None

    def report(self, stats: Any, error: Exception | None) -> dict[str, Any]:
        frames: Counter[str] = stats.frames
        why = self.incomplete(stats, error)
        return {
            "file": stats.source, "complete": why is None, "incomplete_reason": why,
            "frames": stats.n_frames, "bytes": stats.bytes,
            "frames_per_key": [{"key": k, "value": f"0x{self.key_values.get(k, 0):08X}",
                                "frames": n} for k, n in frames.items()],
            "timestamp_min": self.ts_min, "timestamp_max": self.ts_max,
            "unknown_frames": stats.unknown_frames, "skipped_bytes": stats.skipped_bytes,
            "skips": [{"offset": o, "bytes": n} for o, n in stats.skips],
            "recovered_errors": list(stats.errors), "first_frames": self.rows,
            "error": None if error is None else str(error),
        }


def _eof_value(keys: Any) -> int:
    """The meta:eof key value of the table, else AGATA's (a key file that does not name it)."""
    from gpsa.errors import ConfigError

    try:
        return int(keys.value_of("meta:eof"))
    except ConfigError:
        return AGATA_EOF


def cmd_dump(args: argparse.Namespace) -> int:
    from gpsa.adf import AdfStats, KeyTable, iter_blocks
    from gpsa.errors import AdfError

    keys = KeyTable.coerce(args.keys)
    stats = AdfStats()
    summary = _Summary(args.first)
    error: AdfError | None = None
    try:
        for block in iter_blocks(args.file, keys=keys, resync=args.resync, stats=stats,
                                 keep_unknown=False):
            summary.add(block)
    except AdfError as exc:
        error = exc
    report = summary.report(stats, error)
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    if error is not None:
        raise error  # main() prints the one-line message on stderr and exits 1
    if not report["complete"]:
        raise AdfError(f"incomplete: {report['incomplete_reason']}", source=args.file,
                       offset=stats.bytes + stats.skipped_bytes)
    return 0


def _print_report(r: dict[str, Any]) -> None:
    ts = ("-" if r["timestamp_min"] is None
          else f"{r['timestamp_min']} .. {r['timestamp_max']} (10 ns ticks, data/event frames)")
    state = "yes (ends with meta:eof)" if r["complete"] else f"NO: {r['incomplete_reason']}"
    summary = [("complete", state), ("frames", r["frames"]), ("bytes", r["bytes"]),
               ("timestamps", ts),
               ("unknown frames", r["unknown_frames"]), ("skipped bytes", r["skipped_bytes"])]
    if r["error"]:
        summary.append(("stopped at", r["error"]))
    print_table(f"ADF file {r['file']}", ["field", "value"], summary)
    print_table("frames per key", ["key", "value", "frames"],
                [(d["key"], d["value"], d["frames"]) for d in r["frames_per_key"]])
    if r["skips"] or r["recovered_errors"]:
        print_table("resync", ["offset", "bytes skipped"],
                    [(s["offset"], s["bytes"]) for s in r["skips"]])
        for msg in r["recovered_errors"]:
            print_line(f"recovered: {msg}")
    if r["first_frames"]:
        print_table(f"first {len(r['first_frames'])} frames",
                    ["offset", "key", "length", "event", "timestamp"],
                    [(f["offset"], f["key"], f["length"], f["event_number"], f["timestamp"])
                     for f in r["first_frames"]])


def cmd_make_example(args: argparse.Namespace) -> int:
    from gpsa.adf.example import write_example
    from gpsa.errors import ConfigError

    if args.events < 1:
        raise ConfigError(f"--events must be at least 1, got {args.events}")
    counts = write_example(args.file, n_events=args.events, seed=args.seed)
    print_line(f"wrote {args.file}: {counts['frames']} frames, {counts['bytes']} bytes "
               f"(SYNTHETIC example: conf:global, {args.events} data:crystal, {args.events} "
               f"data:psa, meta:eof)")
    return 0
