"""ADF codecs, keyed by (key name, version). :func:`default_registry` holds the built-in ones:

=============== ======= ==========================================================
key             version value type
=============== ======= ==========================================================
data:crystal    1       :class:`gpsa.block.CrystalBlock` (gpsa layout, int16 traces)
data:ccrystal   1       :class:`gpsa.block.CrystalBlock` (same layout, float32 traces)
data:psa        1       :class:`gpsa.block.PsaBlock` (AGATA layout, drift times)
data:psa        0       :class:`PsaBlockV0` (older layout, hit errors)
data:tracked    1       :class:`TrackedBlock` (gpsa layout)
data:ranc1      1       :class:`AncillaryFrames` (gpsa layout, ancillary channels)
conf:global     1       :class:`TextFrames`
meta:eof        1       :class:`KeyOnlyFrames`
any composite   –       :class:`CompositeFrames` (sub-frames decoded recursively)
anything else   –       :class:`RawFrames` (bytes kept, written back unchanged)
=============== ======= ==========================================================

Register more with ``registry = default_registry(); registry.register(MyCodec())`` and pass
``registry=`` to the reader and writer.
"""

from __future__ import annotations

from gpsa.adf.codecs.composite import CompositeCodec, CompositeFrames
from gpsa.adf.codecs.crystal import CalibratedCrystalCodecV1, CrystalCodecV1
from gpsa.adf.codecs.psa import PsaBlockV0, PsaCodecV0, PsaCodecV1, PsaHitErrors
from gpsa.adf.codecs.ranc import AncillaryCodecV1, AncillaryFrames
from gpsa.adf.codecs.raw import RawCodec, RawFrames
from gpsa.adf.codecs.registry import Codec, CodecRegistry, Context, Encoded, FrameCut, FrameSet
from gpsa.adf.codecs.text import KeyOnlyCodec, KeyOnlyFrames, TextCodec, TextFrames
from gpsa.adf.codecs.tracked import TrackedBlock, TrackedCodecV1, TrackedEvents, TrackedGammas


def default_registry() -> CodecRegistry:
    """A fresh registry with the built-in codecs (callers may add to it freely)."""
    reg = CodecRegistry(composite=CompositeCodec(), raw=RawCodec())
    for codec in (CrystalCodecV1(), CalibratedCrystalCodecV1(), PsaCodecV1(), PsaCodecV0(),
                  TrackedCodecV1(), AncillaryCodecV1(), TextCodec(), KeyOnlyCodec()):
        reg.register(codec)
    return reg


__all__ = [
    "AncillaryCodecV1", "AncillaryFrames", "Codec", "CodecRegistry", "CompositeCodec",
    "CompositeFrames", "Context", "CrystalCodecV1",
    "Encoded", "FrameCut", "FrameSet", "KeyOnlyCodec", "KeyOnlyFrames", "PsaBlockV0",
    "PsaCodecV0", "PsaCodecV1", "PsaHitErrors", "RawCodec", "RawFrames", "TextCodec",
    "TextFrames", "TrackedBlock", "TrackedCodecV1", "TrackedEvents", "TrackedGammas",
    "default_registry",
]
