"""data:crystal v1: one crystal event (energies and int16 traces) per frame, in gpsa's own layout.

AGATA's data:crystal payload is not public (only that it holds 36 segment and 2 core traces
is), so gpsa defines this one; the byte offsets are in FORMATS.md::

    payload  0  uint16  crystal_id
             2  uint16  status
             4  uint16  n_channels            (c)
             6  uint16  n_samples             (s)
             8  float32 t0                    samples, NaN = unknown
            12  float32 energies[c]           keV
      12 + 4c   int16   traces[c][s]          channel-major ADC samples

Frame length = 20 + 12 + 4c + 2cs (7,784 bytes for 38 × 100). For given (c, s) the frame has a
fixed size, so a block of frames decodes through one numpy structured dtype (zero-copy view when
the frames are back to back). A block holds one trace shape: where (c, s) changes the reader
starts a new block. Float32 (preprocessed) traces are **rejected** on encode, never rounded
silently: the format stores raw ADC samples.
"""

from __future__ import annotations

import functools

import numpy as np

from gpsa.adf.codecs.registry import Context, Encoded, FrameCut, FrameSet
from gpsa.adf.header import HEADER_SIZE, KEY_DTYPE, gather_rows
from gpsa.block import CrystalBlock
from gpsa.errors import BlockError

CRYSTAL_HEAD = np.dtype([("crystal_id", "<u2"), ("status", "<u2"), ("n_channels", "<u2"),
                         ("n_samples", "<u2"), ("t0", "<f4")])
assert CRYSTAL_HEAD.itemsize == 12


def frame_length(n_channels: np.ndarray | int, n_samples: np.ndarray | int,
                 trace: str = "<i2") -> np.ndarray:
    """Frame length of a data:crystal v1 frame with the given trace shape (``trace``: the
    sample type, ``<f4`` for data:ccrystal)."""
    c = np.asarray(n_channels, np.int64)
    size = np.dtype(trace).itemsize
    return (HEADER_SIZE + CRYSTAL_HEAD.itemsize + 4 * c
            + size * c * np.asarray(n_samples, np.int64))


@functools.lru_cache(maxsize=32)
def frame_dtype(n_channels: int, n_samples: int, trace: str = "<i2") -> np.dtype:
    """Structured dtype of a whole frame (key + payload) for one trace shape."""
    fields = [(name, KEY_DTYPE.fields[name][0]) for name in KEY_DTYPE.names]
    fields += [(name, CRYSTAL_HEAD.fields[name][0]) for name in CRYSTAL_HEAD.names]
    fields += [("energies", "<f4", (n_channels,)), ("traces", trace, (n_channels, n_samples))]
    dt = np.dtype(fields)
    assert dt.itemsize == int(frame_length(n_channels, n_samples, trace))
    return dt


class CrystalCodecV1:
    """data:crystal v1 <-> :class:`gpsa.block.CrystalBlock` with int16 traces."""

    name = "data:crystal"
    version = 1
    value_type = CrystalBlock
    #: sample type of the traces in the frame
    trace = "<i2"

    refusal = ("data:crystal v1 stores int16 ADC traces, got float32 (preprocessed) traces; "
               "write them as data:ccrystal, or convert explicitly, e.g. "
               "np.rint(t).astype(np.int16)")

    def accepts(self, value: CrystalBlock) -> bool:
        """Whether this codec writes ``value`` (its traces' type)."""
        return value.traces.dtype == np.dtype(self.trace)

    def decode(self, frames: FrameSet) -> CrystalBlock:
        fs = frames
        short = np.flatnonzero(fs.payload_sizes < CRYSTAL_HEAD.itemsize)
        n_ok = int(short[0]) if short.size else len(fs)
        heads = gather_rows(fs.buf, fs.starts[:n_ok] + HEADER_SIZE, CRYSTAL_HEAD.itemsize)
        heads = heads.view(CRYSTAL_HEAD).reshape(-1)
        c, s = heads["n_channels"].astype(np.int64), heads["n_samples"].astype(np.int64)
        expected = frame_length(c, s, self.trace)
        bad = np.flatnonzero(fs.lengths[:n_ok] != expected)
        error = int(bad[0]) if bad.size else (int(short[0]) if short.size else len(fs))
        change = np.flatnonzero((c != c[:1]) | (s != s[:1])) if n_ok else np.zeros(0, int)
        if change.size and int(change[0]) < error:
            raise FrameCut(int(change[0]))  # new trace shape: not an error, a new block
        if error < len(fs):
            if bad.size and error == int(bad[0]):
                why = (f"does not match 20 + 12 + 4·{c[error]} + "
                   f"{np.dtype(self.trace).itemsize}·{c[error]}·{s[error]} "
                       f"= {int(expected[error])} (n_channels × n_samples from its payload)")
            else:
                why = "is shorter than its 32-byte fixed part"
            raise FrameCut(error, f"{self.name} frame length {int(fs.lengths[error])} {why}")
        if len(fs) == 0:
            return CrystalBlock.from_traces(np.zeros((0, 0, 0), self.trace))
        rows = fs.fixed_rows(frame_dtype(int(c[0]), int(s[0]), self.trace))
        return CrystalBlock(
            traces=rows["traces"].astype(np.dtype(self.trace).newbyteorder("=")),
            energies=rows["energies"].astype(np.float32),
            timestamps=rows["timestamp"].astype(np.uint64),
            event_numbers=rows["event_number"].astype(np.uint32),
            crystal_ids=rows["crystal_id"].astype(np.uint16),
            status=rows["status"].astype(np.uint16),
            t0=rows["t0"].astype(np.float32),
        )

    def encode(self, value: CrystalBlock, key: int, ctx: Context) -> Encoded:
        block = value
        if not self.accepts(block):
            raise BlockError(self.refusal)
        n, c, s = block.traces.shape
        if c > 0xFFFF or s > 0xFFFF or int(frame_length(c, s, self.trace)) > 0xFFFFFFFF:
            raise BlockError(f"{self.name} v1: trace shape {c}×{s} does not fit the frame")
        rec = np.empty(n, frame_dtype(c, s, self.trace))
        rec["length"] = int(frame_length(c, s, self.trace))
        rec["key"] = key
        rec["event_number"] = block.event_numbers
        rec["timestamp"] = block.timestamps
        rec["crystal_id"] = block.crystal_ids
        rec["status"] = block.status
        rec["n_channels"] = c
        rec["n_samples"] = s
        rec["t0"] = block.t0
        rec["energies"] = block.energies
        rec["traces"] = block.traces
        return Encoded.from_records(rec)


class CalibratedCrystalCodecV1(CrystalCodecV1):
    """data:ccrystal v1 <-> :class:`gpsa.block.CrystalBlock` with float32 (preprocessed)
    traces: the data:crystal v1 layout with float32 samples (gpsa's own; AGATA's is not public).
    Used where a chain is cut after preprocessing (Central Memory streams)."""

    name = "data:ccrystal"
    trace = "<f4"
    refusal = "data:ccrystal v1 stores float32 (preprocessed) traces, got int16 ADC traces"
