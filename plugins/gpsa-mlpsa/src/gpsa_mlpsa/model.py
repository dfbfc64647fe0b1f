"""k-nearest-neighbour PSA on PCA features, trained on the basis with noise augmentation.

Training (``setup``), per segment ``s``: the basis signals of the points of ``s`` on the channels
of the AGATA mask of ``s`` (hit segment, its neighbours, core), ``samples`` samples from the
basis T0, plus ``copies`` copies with Gaussian noise of ``noise_kev`` rms at ``train_energy_kev``
(the signals are unit-amplitude, so the noise is ``noise_kev / train_energy_kev``). A PCA keeps
``components`` directions; the projected training set and its positions form the regressor.

Analysis (``analyse``): each segment above ``threshold_kev`` gives a hit. Its feature vector is the
measured window divided by the segment energy; channels spoiled by the event's other hit segments
(and the core, when several segments are hit) are imputed with the training mean, so they add
nothing to the projection. The position is the inverse-distance-weighted mean of the
``neighbours`` nearest training points; ``fom`` is the mean distance to them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.block import CrystalBlock, PsaBlock, PsaEvents, PsaHits
from gpsa.plugins import Param, PsaAlgorithm
from gpsa.psa.masks import build_mask
from gpsa.psa.window import integer_t0, measured_window
from gpsa.status import PsaStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentModel:
    channels: np.ndarray  # (c,) channel indices of the features
    mean: np.ndarray  # (c * samples,)
    axes: np.ndarray  # (c * samples, k) principal directions
    train: np.ndarray  # (n, k) projected training set
    train_sq: np.ndarray  # (n,) squared norms of ``train``
    positions: np.ndarray  # (n, 3) mm

    def predict(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions (m, 3), mean neighbour distance (m,)) for feature rows ``x`` (m, d)."""
        z = (x - self.mean) @ self.axes
        d2 = (z * z).sum(1)[:, None] - 2.0 * z @ self.train.T + self.train_sq[None, :]
        k = min(k, d2.shape[1])
        near = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dist = np.sqrt(np.maximum(np.take_along_axis(d2, near, axis=1), 0.0))
        w = 1.0 / (dist + 1e-6)
        pos = (w[:, :, None] * self.positions[near]).sum(1) / w.sum(1, keepdims=True)
        return pos.astype(np.float32), dist.mean(1).astype(np.float32)


def principal_axes(xc: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` leading principal directions (d, k) of centred rows ``xc`` (n, d), by a
    randomised range finder with two power iterations (Halko et al. 2011)."""
    k = min(k, *xc.shape)
    y = xc @ rng.standard_normal((xc.shape[1], k + 8)).astype(np.float32)
    for _ in range(2):
        y = xc @ (xc.T @ _orthonormal(y))
    _, _, vt = np.linalg.svd(_orthonormal(y).T @ xc, full_matrices=False)
    return np.ascontiguousarray(vt[:k].T, dtype=np.float32)


def _orthonormal(y: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of a tall ``y`` through its small Gram matrix (a
    tall-skinny QR is needlessly slow with threaded LAPACK on a busy machine)."""
    w, v = np.linalg.eigh((y.T @ y).astype(np.float64))
    keep = w > w.max() * 1e-9
    return (y @ (v[:, keep] / np.sqrt(w[keep]))).astype(np.float32)


class MlPsa(PsaAlgorithm):
    """k-nearest-neighbour PSA on PCA features, trained on the basis with noise augmentation.

    The plugin contract (gpsa's ``docs/writing-a-psa-plugin.md``), as this class follows it:

    * ``name`` is what run files (``algorithm = "mlpsa"``) and ``--psa mlpsa`` use; the first
      line of this docstring is the summary ``gpsa plugins`` shows. ``devices`` and
      ``thread_safe`` keep their defaults (CPU only; ``analyse`` only reads what ``setup`` built,
      so it may run in several threads).
    * The ``Param`` class attributes are the settings of the ``psa`` stage, checked before any
      data is read; on the instance they read as values (``self.neighbours``).
    * :meth:`setup` runs once per crystal chain, before the first block: it trains on the basis
      (shared, read only) and raises ``ConfigError`` when the settings do not fit it.
    * :meth:`analyse` maps one preprocessed block to one ``PsaBlock``: one event row per input
      event (``PsaEvents.from_crystal_block``) and the hits (``PsaHits.build``, event-major).
    """

    name = "mlpsa"
    neighbours = Param(int, 4, "neighbours averaged by the regressor", min=1)
    components = Param(int, 16, "PCA components kept per segment", min=1)
    samples = Param(int, 30, "samples from T0 used as features", min=2)
    copies = Param(int, 2, "noisy copies of each basis point in the training set", min=0)
    noise_kev = Param(float, 3.0, "rms noise of the augmentation, keV", min=0.0)
    train_energy_kev = Param(float, 500.0, "energy at which the noise is added, keV", min=1.0)
    threshold_kev = Param(float, 15.0, "net-charge threshold of a hit segment, keV", min=0.0)
    default_t0 = Param(float, 20.0, "T0 (trace sample) used when the block has none")
    seed = Param(int, 0, "seed of the augmentation noise")

    def setup(self, basis: Any, device: str) -> None:
        rng = np.random.default_rng(self.seed)
        first = basis.t0_sample
        if first + self.samples > basis.n_samples:
            from gpsa.errors import ConfigError

            raise ConfigError(f"mlpsa.samples: {self.samples} samples from the basis T0 "
                              f"{first} exceed its {basis.n_samples} samples")
        mask = build_mask("agata", basis.segment_order)
        self.models: list[SegmentModel | None] = []
        for s in range(36):
            idx = np.flatnonzero(basis.segment == s)
            if idx.size == 0:
                self.models.append(None)
                continue
            channels = np.flatnonzero(mask[s])
            x = np.asarray(basis.signals[idx][:, channels, first:first + self.samples],
                           np.float32).reshape(idx.size, -1)
            pos = np.asarray(basis.positions[idx], np.float32)
            sigma = self.noise_kev / self.train_energy_kev
            xs = [x] + [x + sigma * rng.standard_normal(x.shape).astype(np.float32)
                        for _ in range(self.copies)]
            x_all, pos_all = np.concatenate(xs), np.tile(pos, (len(xs), 1))
            mean = x_all.mean(0)
            axes = principal_axes(x_all - mean, self.components, rng)
            train = (x_all - mean) @ axes
            self.models.append(SegmentModel(channels, mean, axes, train, (train * train).sum(1),
                                            pos_all))
        self.first = first
        log.info("mlpsa: trained on %d basis points (%d copies)", len(basis), self.copies)

    def analyse(self, block: CrystalBlock) -> PsaBlock:
        """One hit per segment above ``threshold_kev``; ``block.t0`` NaN -> ``default_t0``."""
        seg_e = block.energies[:, :36]
        hit = seg_e > self.threshold_kev
        hit &= np.array([m is not None for m in self.models])[None, :]
        ev, seg = np.nonzero(hit)
        t0, t0i = integer_t0(block.t0, self.default_t0)
        window = measured_window(block.traces, t0i, 0, self.samples)
        multi = hit.sum(1) > 1
        pos = np.zeros((ev.size, 3), np.float32)
        fom = np.zeros(ev.size, np.float32)
        for s in np.unique(seg):
            model = self.models[s]
            assert model is not None
            sel = np.flatnonzero(seg == s)
            e = seg_e[ev[sel], s][:, None, None]
            x = window[ev[sel]][:, model.channels, :] / e
            spoiled = hit[ev[sel]][:, np.minimum(model.channels, 35)] & (model.channels != s)
            spoiled[:, model.channels == 36] = multi[ev[sel], None]
            mean = model.mean.reshape(model.channels.size, -1)
            x = np.where(spoiled[:, :, None], mean[None], x).reshape(sel.size, -1)
            pos[sel], fom[sel] = model.predict(x, self.neighbours)
        # the output, as every PSA algorithm builds it: events (one row per input event, key
        # data, status and core energies copied from the block) and event-major hits
        status = np.where(hit.any(1), 0, PsaStatus.NO_NET_CHARGE).astype(np.uint16)
        events = PsaEvents.from_crystal_block(block, t0=t0, t1=t0, psa_status=status)
        hits = PsaHits.build(ev, segment=seg, crystal=block.crystal_ids[ev].astype(np.int16),
                             x=pos[:, 0], y=pos[:, 1], z=pos[:, 2], energy=seg_e[ev, seg],
                             time=t0[ev], fom=fom)
        return PsaBlock(events=events, hits=hits)
