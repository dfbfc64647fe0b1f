// CUDA C twin of gpsa/psa/kernels/cuda_kernels.py::search_kernel (for a CuPy RawKernel).
//
// One thread block per hit (blockDim.x = GPSA_THREADS, a power of two). The hit's target
// (n_ch x n_k floats) goes to shared memory; each thread scores a strided subset of the hit's
// candidates  fom = sum_c w_c sum_k |t - E*b|^p  with early termination against its own best;
// a tree reduction picks the least fom (ties: earlier candidate in the list).
// Signals are float (float32) or __half when compiled with -DGPSA_HALF_BASIS.
// mode: 0 p = 2, 1 p = 1, 2 p = 0.5, 3 general p (powf).
// Guards: a target larger than the shared array (n_ch * n_k > GPSA_MAX_TERMS) or a block size
// that is not a power of two up to GPSA_THREADS writes best = -2, fom = NaN and does nothing
// else (the host also refuses such launches); an empty candidate list gives best = -1,
// fom = +inf. Selected with gpu_kernel = "raw" (gpsa/psa/gpu.py, launched by CuPy on its current
// stream).

#ifdef GPSA_HALF_BASIS
#include <cuda_fp16.h>
typedef __half basis_t;
__device__ __forceinline__ float load_basis(const basis_t* s, long long i) { return __half2float(s[i]); }
#else
typedef float basis_t;
__device__ __forceinline__ float load_basis(const basis_t* s, long long i) { return s[i]; }
#endif

#ifndef GPSA_THREADS
#define GPSA_THREADS 128
#endif
#ifndef GPSA_MAX_TERMS
#define GPSA_MAX_TERMS 4096
#endif

extern "C" __global__ void grid_search_fom(
    const float* __restrict__ targets,      // (m, n_ch, n_k)
    const float* __restrict__ energies,     // (m,)
    const float* __restrict__ weights,      // (m, n_ch)
    const basis_t* __restrict__ signals,    // (Ns, n_ch, n_k)
    const long long* __restrict__ order,    // (n_ch,) channel visiting order
    const long long* __restrict__ cand_ptr, // (G + 1,)
    const long long* __restrict__ cand_idx, // candidate local indices
    const long long* __restrict__ hit_group,// (m,)
    int n_ch, int n_k, int mode, float p,
    long long* __restrict__ best,           // (m,) out
    double* __restrict__ fom)               // (m,) out
{
    __shared__ float target[GPSA_MAX_TERMS];
    __shared__ double red_val[GPSA_THREADS];
    __shared__ long long red_pos[GPSA_THREADS];
    const int h = blockIdx.x;
    const int tid = threadIdx.x;
    const int nthreads = blockDim.x;
    const int terms = n_ch * n_k;
    if (terms > GPSA_MAX_TERMS || terms < 0 || nthreads > GPSA_THREADS
            || (nthreads & (nthreads - 1)) != 0) {
        if (tid == 0) {
            best[h] = -2;
            fom[h] = __longlong_as_double(0x7ff8000000000000LL);  // NaN
        }
        return;  // uniform over the block: no thread reaches a barrier
    }
    for (int i = tid; i < terms; i += nthreads) target[i] = targets[(long long)h * terms + i];
    __syncthreads();
    const float e = energies[h];
    const long long g = hit_group[h];
    double best_val = 1e300;
    long long best_q = -1;
    for (long long q = cand_ptr[g] + tid; q < cand_ptr[g + 1]; q += nthreads) {
        const long long j = cand_idx[q];
        double acc = 0.0;
        for (int ci = 0; ci < n_ch; ++ci) {
            const int c = (int)order[ci];
            const float w = weights[(long long)h * n_ch + c];
            if (w == 0.0f) continue;
            float part = 0.0f;
            const long long base = (j * n_ch + c) * n_k;
            for (int k = 0; k < n_k; ++k) {
                const float d = fabsf(target[c * n_k + k] - e * load_basis(signals, base + k));
                part += (mode == 0) ? d * d : (mode == 1) ? d : (mode == 2) ? sqrtf(d) : powf(d, p);
            }
            acc += (double)w * part;
            if (acc >= best_val) break;
        }
        if (acc < best_val) { best_val = acc; best_q = q; }
    }
    red_val[tid] = best_val;
    red_pos[tid] = best_q;
    __syncthreads();
    for (int step = nthreads / 2; step > 0; step >>= 1) {
        if (tid < step) {
            const double ov = red_val[tid + step], mv = red_val[tid];
            const long long oq = red_pos[tid + step], mq = red_pos[tid];
            if (oq >= 0 && (mq < 0 || ov < mv || (ov == mv && oq < mq))) {
                red_val[tid] = ov;
                red_pos[tid] = oq;
            }
        }
        __syncthreads();
    }
    if (tid == 0) {
        const bool found = red_pos[0] >= 0;
        fom[h] = found ? red_val[0] : __longlong_as_double(0x7ff0000000000000LL);  // +inf
        best[h] = found ? cand_idx[red_pos[0]] : -1;
    }
}
