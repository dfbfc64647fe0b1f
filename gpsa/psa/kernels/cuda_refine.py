"""numba.cuda kernels of the lattice refinement (private; host code in :mod:`gpsa.psa.refine_gpu`).

The device twins of the numba CPU kernels (:func:`gpsa.psa.kernels.refine_kernels.
refine_positions`, :func:`gpsa.psa.kernels.t0_kernel.refine_t0`, :mod:`gpsa.psa.kernels.
refine_common`), same algorithm, order, early termination and tie rule (the numpy reference and
its description: :mod:`gpsa.psa.refine`):

* :func:`positions_kernel`: **one thread per hit** of one rank (hits of a rank are in distinct
  events, so each thread owns its event's residual rows). The lattice stages are sequential and
  each position's fom stops accumulating once it reaches the best so far, as on the CPU; a thread
  keeps both with no synchronisation. The CPU kernel's 6³ node cache (216 x C x K float32 per
  hit, hundreds of kB) fits neither a thread's local memory nor a block's shared memory, so the
  time-shifted node samples are **recomputed** for every position (8 corners x 4 taps per sample,
  read from the resident basis through the caches, each corner's row once per channel through a
  sliding window of the 4 taps); the local arrays are the 8 corners and one channel's samples
  (``MAX_SAMPLES``).
* :func:`t0_kernel`: one thread per event. The event's model over the window ± pad is built once
  into a global scratch slice (``model[ev]``, as the CPU's per-event array), then each trial shift
  is a 4-tap filter of it.
* :func:`residual_kernel` (one thread per event and channel) and :func:`signal_kernel` (one
  thread per hit: 37-channel unit signals) are the CPU's ``residual`` and ``model_signals``.

Shared code: :func:`cubic_weights`, :func:`segment_corners` (and its ``_axis``), :func:`hit_target`
and :func:`channel_fom` (the search's ``channel_sum``) are the *same Python bodies* as the CPU
helpers (their ``py_func``), compiled here as device functions with the calls they make bound to
device twins (:func:`device_function`); the hit's target goes to a global scratch row per hit,
as the CPU's per-chunk scratch.

The basis is read as ``sig`` (N, 37, K + 2·pad) float32: the compared window ± pad, indices
clamped as the reference clamps them, made by the host (``first = pad``). With |δ| <= t0_range
and pad = ceil(t0_range) + 2 every 4-tap read lies inside it, so no index is clamped here: the
values are those of every branch of the CPU's ``shifted_node`` (its copy branch is the filter
with weights 0, 1, 0, 0). Products and per-channel sums are float32, sums over channels and the
foms float64, as on the CPU; a GPU contracts multiply-adds, the CPU kernels use fast-math, p < 1
uses the exact power here (the CPU's ``fast_pow``: < 3e-6 relative): results agree to float
rounding (ties may break differently).

This module imports ``numba.cuda`` at import time; import it only when a kernel is needed (after
``NUMBA_ENABLE_CUDASIM`` is set, for the simulator).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from numba import boolean, cuda, float32, float64, int64

from gpsa.psa.kernels import refine_common as rc
from gpsa.psa.kernels.cpu_kernels import channel_sum
from gpsa.psa.refine_gpu import MAX_SAMPLES, N_CHANNELS  # local array sizes

#: Threads per block (one thread per hit or event).
THREADS = 64


def device_function(py_func: Callable[..., Any], **calls: Any) -> Any:
    """``py_func`` (the Python body of a CPU helper) compiled as a CUDA device function, with the
    global names in ``calls`` (the CPU dispatchers it calls) bound to their device twins."""
    scope = dict(py_func.__globals__)
    scope.update(calls)
    body = types.FunctionType(py_func.__code__, scope, py_func.__name__, py_func.__defaults__,
                              py_func.__closure__)
    return cuda.jit(device=True)(body)


def _power(x, p):  # noqa: ANN001, ANN202
    return x ** p


cubic_weights = device_function(rc.cubic_weights.py_func)
segment_corners = device_function(rc.segment_corners.py_func,
                                  _axis=device_function(rc._axis.py_func))
hit_target = device_function(rc.hit_target.py_func)
#: Σ_k |t − E·s|^p over one channel: the CPU's kernel, with the exact power for p not in
#: {2, 1, 0.5} (the CPU's fast_pow uses CPU-only bit casts).
channel_fom = device_function(channel_sum.py_func, fast_pow=cuda.jit(device=True)(_power))


@cuda.jit(device=True)
def corners(x, y, z, seg, index, origin, spacing, seg_of, jn, wn):  # noqa: ANN001, ANN201
    """The basis points ``jn`` and float32 weights ``wn`` of the nonzero corners of an allowed
    position; returns their count (0: not allowed)."""
    node = cuda.local.array((8, 3), int64)
    wt = cuda.local.array(8, float64)
    if not segment_corners(x, y, z, index, origin, spacing, seg_of, seg, node, wt):
        return 0
    nv = 0
    for r in range(8):
        if wt[r] != 0.0:
            jn[nv] = index[node[r, 0], node[r, 1], node[r, 2]]
            wn[nv] = float32(wt[r])
            nv += 1
    return nv


@cuda.jit(device=True)
def shifted_channel(sig, jn, wn, nv, c, b, n_k, c0, c1, c2, c3, v):  # noqa: ANN001, ANN201
    """v[k] (k < n_k) = Σ_i wn[i]·(basis point jn[i], channel c, shifted by the 4-tap
    Catmull-Rom filter from sample b − 1 + k), in the CPU's order (corners in turn, taps left to
    right). Each corner's row is read once (a sliding window of 4 samples); the basis is the
    window ± pad (module docstring): no sample index needs clamping."""
    for i in range(nv):
        j = jn[i]
        w = wn[i]
        x0, x1, x2 = sig[j, c, b - 1], sig[j, c, b], sig[j, c, b + 1]
        for k in range(n_k):
            x3 = sig[j, c, b + 2 + k]
            x = w * (x0 * c0 + x1 * c1 + x2 * c2 + x3 * c3)
            v[k] = x if i == 0 else v[k] + x
            x0, x1, x2 = x1, x2, x3


@cuda.jit(device=True)
def set_signal(sig, x, y, z, seg, delta, first, index, origin, spacing, seg_of,  # noqa: ANN001
               signal_in, signal, h, resid, ev, e, jn, wn, v):  # noqa: ANN001, ANN201
    """signal[h] = the 37-channel unit signal at (x, y, z) shifted by delta (0 where not
    allowed); with ``ev >= 0`` also resid[ev] += e·(signal_in[h] − new). ``jn``, ``wn``, ``v``:
    the caller's scratch (corners, one channel's samples)."""
    nv = corners(x, y, z, seg, index, origin, spacing, seg_of, jn, wn)
    b, c0, c1, c2, c3 = cubic_weights(delta, first)
    n_k = signal.shape[2]
    for c in range(signal.shape[1]):
        shifted_channel(sig, jn, wn, nv, c, b, n_k, c0, c1, c2, c3, v)
        for k in range(n_k):
            new = v[k] if nv > 0 else float32(0.0)
            if ev >= 0:
                resid[ev, c, k] += e * (signal_in[h, c, k] - new)
            signal[h, c, k] = new


@cuda.jit
def residual_kernel(window, hit_ptr, energy, signal, out):  # noqa: ANN001, ANN201
    """out (n, 37, K) = window − Σ E·signal over each event's hits; thread = (event, channel)."""
    i = cuda.grid(1)
    n, n_ch, n_k = window.shape
    if i >= n * n_ch:
        return
    ev = i // n_ch
    c = i - ev * n_ch
    for k in range(n_k):
        out[ev, c, k] = window[ev, c, k]
    for h in range(hit_ptr[ev], hit_ptr[ev + 1]):
        e = float32(energy[h])
        for k in range(n_k):
            out[ev, c, k] -= e * signal[h, c, k]


@cuda.jit
def positions_kernel(resid, signal_in, signal, sel, event, segment, energy, xyz,  # noqa: ANN001
                     delta_ev, chans, n_chans, hit_set, mask_other, index, origin, spacing,
                     seg_of, sig, first, lattice, stage_ptr, mode, p, target, out_off,
                     out_fom):  # noqa: ANN001, ANN201
    """Sub-grid position of hit ``sel[thread]`` (refine_kernels.refine_positions: stages in
    order around the best so far, early termination, the first least fom kept). Reads
    ``signal_in``, writes ``signal``, ``out_off`` (mm from xyz), ``out_fom``; updates ``resid``;
    ``target`` (m, C, K) is scratch: the hit's target on its mask channels."""
    t = cuda.grid(1)
    if t >= sel.size:
        return
    h = sel[t]
    ev = event[h]
    seg = segment[h]
    e = float32(energy[h])
    pf = float32(p)
    n_k = resid.shape[2]
    n_ch = n_chans[seg]
    ch = chans[seg]
    jn = cuda.local.array(8, int64)
    wn = cuda.local.array(8, float32)
    v = cuda.local.array(MAX_SAMPLES, float32)
    wch = cuda.local.array(N_CHANNELS, float32)
    hit_target(resid, signal_in, h, ev, seg, e, ch, n_ch, hit_set, mask_other, target[h], wch)
    b, c0, c1, c2, c3 = cubic_weights(delta_ev[ev], first)
    x0, y0, z0 = xyz[h, 0], xyz[h, 1], xyz[h, 2]
    best = float64(1e300)
    bx = by = bz = float64(0.0)
    for st in range(stage_ptr.size - 1):
        cx, cy, cz = bx, by, bz
        for q in range(stage_ptr[st], stage_ptr[st + 1]):
            ox = cx + lattice[q, 0] * spacing[0]
            oy = cy + lattice[q, 1] * spacing[1]
            oz = cz + lattice[q, 2] * spacing[2]
            nv = corners(x0 + ox, y0 + oy, z0 + oz, seg, index, origin, spacing, seg_of, jn, wn)
            if nv == 0:
                continue
            fom = float64(0.0)
            done = True
            for c in range(n_ch):
                if wch[c] == 0.0:
                    continue
                shifted_channel(sig, jn, wn, nv, ch[c], b, n_k, c0, c1, c2, c3, v)
                fom += channel_fom(target[h, c], v[:n_k], e, mode, pf)
                if fom >= best:
                    done = False
                    break
            if done and fom < best:
                best = fom
                bx, by, bz = ox, oy, oz
    out_off[h, 0], out_off[h, 1], out_off[h, 2] = bx, by, bz
    out_fom[h] = best
    set_signal(sig, x0 + bx, y0 + by, z0 + bz, seg, delta_ev[ev], first, index, origin, spacing,
               seg_of, signal_in, signal, h, resid, ev, e, jn, wn, v)


@cuda.jit
def signal_kernel(sig, xyz, segment, delta, event, index, origin, spacing, seg_of,  # noqa: ANN001
                  first, out):  # noqa: ANN001, ANN201
    """out[h] (37, K): hit h's unit signal at xyz[h], shifted by delta[event[h]]."""
    h = cuda.grid(1)
    if h >= xyz.shape[0]:
        return
    set_signal(sig, xyz[h, 0], xyz[h, 1], xyz[h, 2], segment[h], delta[event[h]], first, index,
               origin, spacing, seg_of, out, out, h, out, -1, float32(0.0),
               cuda.local.array(8, int64), cuda.local.array(8, float32),
               cuda.local.array(MAX_SAMPLES, float32))


@cuda.jit
def t0_kernel(window, hit_ptr, xyz, segment, energy, mask, index, origin, spacing,  # noqa: ANN001
              seg_of, sig, first, pad, steps, n_coarse, t0_range, mode, p, model,
              delta):  # noqa: ANN001, ANN201
    """δ of event ``thread`` (t0_kernel.refine_t0): the model once into ``model[ev]`` (union
    channels, samples first − pad …), then the coarse and fine scans with early termination."""
    ev = cuda.grid(1)
    n, n_chan, n_k = window.shape
    if ev >= n:
        return
    delta[ev] = 0.0
    h0, h1 = hit_ptr[ev], hit_ptr[ev + 1]
    if h1 == h0:
        return
    pf = float32(p)
    one = float32(1.0)
    v = cuda.local.array(MAX_SAMPLES, float32)
    union = cuda.local.array(N_CHANNELS, boolean)
    width = n_k + 2 * pad
    for c in range(n_chan):
        union[c] = False
        for h in range(h0, h1):
            union[c] = union[c] or mask[segment[h], c]
        if union[c]:
            for s in range(width):
                model[ev, c, s] = float32(0.0)
    jn = cuda.local.array(8, int64)
    wn = cuda.local.array(8, float32)
    for h in range(h0, h1):
        nv = corners(xyz[h, 0], xyz[h, 1], xyz[h, 2], segment[h], index, origin, spacing,
                     seg_of, jn, wn)
        for r in range(nv):
            w = wn[r] * float32(energy[h])
            for c in range(n_chan):
                if union[c]:
                    for s in range(width):
                        model[ev, c, s] += w * sig[jn[r], c, first - pad + s]
    best = float64(1e300)
    best_d = float64(0.0)
    centre = float64(0.0)
    for q in range(steps.size):
        if q == n_coarse:
            centre = best_d
        d = centre + steps[q]
        d = -t0_range if d < -t0_range else (t0_range if d > t0_range else d)
        b, c0, c1, c2, c3 = cubic_weights(d, first)
        b = b - (first - pad)  # into the model's samples (pad >= t0_range + 2: no clamping)
        fom = float64(0.0)
        done = True
        for c in range(n_chan):
            if not union[c]:
                continue
            for k in range(n_k):
                v[k] = (model[ev, c, b - 1 + k] * c0 + model[ev, c, b + k] * c1
                        + model[ev, c, b + 1 + k] * c2 + model[ev, c, b + 2 + k] * c3)
            fom += channel_fom(window[ev, c], v[:n_k], one, mode, pf)
            if fom >= best:
                done = False
                break
        if done and fom < best:
            best = fom
            best_d = d
    delta[ev] = best_d


def launch(kernel: Any, n_threads: int, stream: Any, *args: Any) -> None:
    """Launch ``kernel`` over ``n_threads`` threads (``THREADS`` per block) on ``stream`` (the
    host passes CuPy's current stream; 0 on the simulator, which is synchronous). Device arrays
    are wrapped without a per-array stream synchronisation (they were made on this stream)."""
    if n_threads <= 0:
        return
    if not isinstance(stream, int):
        args = tuple(cuda.as_cuda_array(a, sync=False) if hasattr(a, "__cuda_array_interface__")
                     else a for a in args)
    kernel[-(-n_threads // THREADS), THREADS, stream](*args)
