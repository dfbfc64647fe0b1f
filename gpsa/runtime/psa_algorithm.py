"""Interface of a PSA algorithm, as registered through ``gpsa_register_psa_algorithms``.

The ``psa`` filter actor loads the basis, picks the algorithm named in the run file (or by
``gpsa run --psa NAME``), configures it with the stage's remaining settings, and calls
:meth:`PsaAlgorithm.analyse` on every preprocessed block. An algorithm only maps blocks to
results; files, threads and ordering are the host's business.

Input convention (set by the preprocessing filter, see :mod:`gpsa.psa`): ``CrystalBlock`` with
float32 traces in keV, ``t0`` set, segment energies in ``energies[:, :36]``, core energies in
``energies[:, 36:38]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from gpsa.config.params import Configurable

if TYPE_CHECKING:  # pragma: no cover
    from gpsa.block import CrystalBlock, PsaBlock


class PsaAlgorithm(Configurable):
    """Base of PSA algorithms. Subclasses set ``name``, declare :class:`Param` settings and
    implement :meth:`setup` and :meth:`analyse`."""

    #: Name used in run files (``algorithm = NAME``) and by ``--psa NAME``.
    name: ClassVar[str] = ""
    #: Devices the algorithm can run on; the host refuses others before the run starts.
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    #: True when :meth:`analyse` may run in several threads at once (``workers > 1``).
    thread_safe: ClassVar[bool] = True

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().split("\n", 1)[0]

    def setup(self, basis: Any, device: str) -> None:
        """Prepare for analysis with ``basis`` (a :class:`gpsa.basis.model.Basis`) on
        ``device`` (``"cpu"`` or ``"cuda"``); called once before the first block."""

    def check_basis(self, basis: Any) -> list[str]:
        """Before the run (``gpsa config check`` and the start of ``gpsa run``): raise
        :class:`gpsa.errors.ConfigError` if :meth:`setup` would refuse ``basis`` with these
        settings, without the expensive part of the setup; return warnings. Default: none."""
        return []

    def analyse(self, block: CrystalBlock) -> PsaBlock:
        """PSA results for every event of ``block`` (one event row per input event)."""
        raise NotImplementedError

    def close(self) -> None:
        """Free device memory and other resources."""
