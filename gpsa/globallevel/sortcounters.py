"""The time sorter's counters, per input and in total, for the log and the summary JSON.

Per input (a crystal stream): frames in, late frames, frames out of order within the stream,
data-time gaps, 48-bit timestamp wraps and idle releases (times the input stopped holding the
others back). In total: frames emitted in time order, late frames passed on flagged or sent to
the side output, blocks out, and late frames per crystal id (from the data). At any time
``frames_in == emitted + late + pending``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PER_INPUT = ("frames_in", "late", "out_of_order", "gaps", "wraps", "idle_releases")


@dataclass
class InputCounters:
    """Counters of one input."""

    frames_in: int = 0
    late: int = 0
    out_of_order: int = 0
    gaps: int = 0
    wraps: int = 0
    idle_releases: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class SorterCounters:
    """Counters of one time sorter (see the module docstring)."""

    inputs: dict[str, InputCounters] = field(default_factory=dict)
    #: frames emitted in time order
    emitted: int = 0
    #: late frames passed on in the output, flagged STATUS_LATE
    late_flagged: int = 0
    #: late frames sent to the side output (flagged too)
    late_side: int = 0
    blocks_out: int = 0
    #: late frames per crystal id read from the data (tables without crystal ids: none)
    late_by_crystal: dict[int, int] = field(default_factory=dict)

    def input(self, name: str) -> InputCounters:
        """The counters of input ``name`` (created on first use)."""
        c = self.inputs.get(name)
        if c is None:
            c = self.inputs[name] = InputCounters()
        return c

    def total(self, name: str) -> int:
        """Sum of the per-input counter ``name`` over the inputs."""
        return sum(getattr(c, name) for c in self.inputs.values())

    @property
    def pending(self) -> int:
        """Frames taken in and not yet out (buffered in the sorter)."""
        return self.total("frames_in") - self.emitted - self.total("late")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: totals, then each counter per input, then late frames per crystal."""
        out: dict[str, Any] = {"emitted": self.emitted, "late_flagged": self.late_flagged,
                               "late_side": self.late_side, "blocks_out": self.blocks_out,
                               "pending": self.pending}
        out["totals"] = {name: self.total(name) for name in PER_INPUT}
        for name in PER_INPUT:
            out[name] = {src: getattr(c, name) for src, c in self.inputs.items()}
        out["late_by_crystal"] = {str(k): v for k, v in sorted(self.late_by_crystal.items())}
        return out

    def lines(self) -> list[str]:
        """A table for the log, one line per input and one of totals."""
        width = max([5, *(len(n) for n in self.inputs)])
        head = f"{'input':<{width}} " + " ".join(f"{n:>13}" for n in PER_INPUT)
        rows = [f"{src:<{width}} " + " ".join(f"{getattr(c, n):>13}" for n in PER_INPUT)
                for src, c in self.inputs.items()]
        total = f"{'total':<{width}} " + " ".join(f"{self.total(n):>13}" for n in PER_INPUT)
        tail = (f"emitted in order {self.emitted}, late flagged {self.late_flagged}, late to "
                f"side output {self.late_side}, pending {self.pending}, blocks out "
                f"{self.blocks_out}")
        return [head, *rows, total, tail]
