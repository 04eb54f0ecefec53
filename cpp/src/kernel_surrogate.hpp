// Private: the fused clipped-surrogate block kernel.
//
// NOTE: deliberately no include guard. Included once per instruction set, inside that ISA's
// namespace and compile-target region, after kernel_exp.hpp (see surrogate.cpp); the enclosing
// namespace defines `template <class T> using Ops = ...;`.
//
// run_block(job, b, out) computes block b (elements [b*kBlock, min(n, (b+1)*kBlock)) of the
// flattened batch): writes its gradient and its partial sums. A block is cut into micro-blocks
// of kMicro elements; each micro-block stays in L1 while four short SIMD loops go over it:
//
//   d_pass:     d = logp_new - logp_old: sum w d, sum w d^2, min / max of d over w > 0, and
//               which 64-element chunks have |d| <= k0_max (exp needs no range reduction).
//   exp_pass:   r = exp(d) into an L1 scratch buffer, sum w k3. Per chunk the cheapest exp
//               variant that is valid there (kExpK0 / kExpFast / kExpSafe, kernel_exp.hpp);
//               all variants give the same bits wherever they are valid.
//   grad_pass:  obj = min(r A, clip(r) A), dual-clip, the gradient, the loss.
//   stats_pass: ratio, entropy and the clip fractions.
//
// Short loops keep their accumulators in registers and their dependency chains within the
// out-of-order window (on Zen 3 a single fused loop was ~40% slower). Each pass is its own
// (not inlined) function, shared by all the block variants that need it.
//
// Per lane (r = exp(d), clip = min(max(r, lo), hi)):
//   obj = min(r A, clip A): Ops::min returns its second operand when the first is NaN, so
//         A == 0 with r == inf (r A = NaN) gives clip A = 0, as the math says.
//   unclipped term selected  <=>  r A <= clip A   (ties unclipped; false for that NaN case)
//   dual-clip: obj = max(obj, min(c A, 0)); min(c A, 0) is 0 for A >= 0, where obj >= 0, so
//         it only acts for A < 0; it binds when obj < c A (strictly).
//   k3 = (r - 1) - d, computed as f^2 q(f) when k == 0 (no cancellation for small d).
//   Masked-out lanes (w == 0) get d := 0 before the exp (r = 1): every weighted term is then
//   exactly 0, whatever their log-ratio; their raw d still enters sum w d, so a NaN/Inf input
//   anywhere makes that sum non-finite (the front end then rescans the inputs).
//
// - Full micro-blocks of flat (contiguous) inputs are read in place; strided inputs are
//   gathered into stack buffers first. The last, partial vector of the batch goes through
//   a padded buffer with weight 0 in the padding (the weighted variant).
// - For batches too large to stay in cache (Job::prefetch) the passes prefetch the next
//   micro-block's flat inputs, one cache line per loop iteration, one stream per pass (d_pass:
//   logp_new; exp_pass: logp_old and the mask; grad_pass: advantages; stats_pass: entropy and
//   the gradient's lines): spread out like this rather than two streams in one pass, the
//   requests do not pile up in one pass's time (measured ~2% faster at N = 1e6).
// - Without a user mask, the clip fractions are integer lane counters (exact); with a mask,
//   weighted sums.

inline constexpr std::int64_t kChunk = 64;  // granularity of the exp-variant choice
inline constexpr int kChunks = static_cast<int>(kMicro / kChunk);

// Where the next micro-block's inputs are (prefetched one cache line per loop iteration, so
// that the first pass over the next micro-block finds them in cache). Never null: streams
// with nothing to prefetch point at a harmless local.
struct Prefetch {
  const char* lpn;
  const char* lpo;
  const char* adv;
  const char* ent;
  const char* msk;
  const char* grad;
};

template <class T>
struct MicroOut {
  typename Ops<T>::V s[kNumSums];
  typename Ops<T>::C cnt[4];  // unweighted counts: clip, low, high, dual
  typename Ops<T>::V dmin, dmax;
  bool k0[kChunks];  // chunk c has |d| <= k0_max (for the exp's d, see above)
};

// d of vector j as the exp sees it
template <class T, bool kMask>
PPOBR_INLINE typename Ops<T>::V load_d(const T* lpn, const T* lpo, const T* msk, std::int64_t j,
                                       typename Ops<T>::V& w) {
  using O = Ops<T>;
  typename O::V d = O::load(lpn + j) - O::load(lpo + j);
  if constexpr (kMask) {
    w = O::load(msk + j);
    d = O::keep(O::gt(w, O::zero()), d);
  }
  return d;
}

// d pass
template <class T, bool kMask, bool kPf>
PPOBR_NOINLINE void d_pass(const T* lpn, const T* lpo, const T* msk, std::int64_t n, MicroOut<T>& o,
                           const Prefetch& pf) {
  using O = Ops<T>;
  using V = typename O::V;
  constexpr int L = O::L;
  const V pinf = O::set1(std::numeric_limits<T>::infinity());
  const V ninf = O::set1(-std::numeric_limits<T>::infinity());
  const V k0lo = O::set1(-ExpConsts<T>::k0_max);
  const V k0hi = O::set1(ExpConsts<T>::k0_max);
  // sums: two accumulators each (even / odd vectors): a single add chain would cost its
  // latency per vector
  V s_d[2] = {O::zero(), O::zero()}, s_d2[2] = {O::zero(), O::zero()};
  V gmin = pinf, gmax = ninf;
  int c = 0;
  for (std::int64_t j0 = 0; j0 < n; j0 += kChunk, ++c) {
    const std::int64_t j1 = std::min(n, j0 + kChunk);
    V cmin = pinf, cmax = ninf;
    auto step = [&](std::int64_t j, int u) PPOBR_LAMBDA_INLINE {
      const V d = O::load(lpn + j) - O::load(lpo + j);
      if constexpr (kMask) {
        const V w = O::load(msk + j);
        const typename O::M wpos = O::gt(w, O::zero());
        const V wd = w * d;  // raw d: NaN/Inf shows even where w == 0
        s_d[u] = s_d[u] + wd;
        s_d2[u] = O::fma(wd, d, s_d2[u]);
        cmin = O::min(cmin, O::select(wpos, d, pinf));
        cmax = O::max(cmax, O::select(wpos, d, ninf));
      } else {
        s_d[u] = s_d[u] + d;
        s_d2[u] = O::fma(d, d, s_d2[u]);
        cmin = O::min(cmin, d);
        cmax = O::max(cmax, d);
      }
    };
    if (j1 - j0 == kChunk) {
      // full chunk: fixed trip count (unrolled)
      constexpr int kVecs = static_cast<int>(kChunk / L);
      static_assert(kVecs % 2 == 0, "pairs of vectors");
      PPOBR_UNROLL for (int v = 0; v < kVecs; v += 2) {
        if constexpr (kPf) PPOBR_PREFETCH(pf.lpn + (j0 + v * L) * sizeof(T));
        step(j0 + v * L, 0);
        step(j0 + (v + 1) * L, 1);
      }
    } else {
      for (std::int64_t j = j0; j < j1; j += L) step(j, 0);
    }
    // (a NaN d is rejected later; whatever variant handles it, nothing breaks)
    o.k0[c] = !O::any(O::mor(O::lt(cmin, k0lo), O::gt(cmax, k0hi)));
    gmin = O::min(gmin, cmin);
    gmax = O::max(gmax, cmax);
  }
  o.s[kSumD] = s_d[0] + s_d[1];
  o.s[kSumD2] = s_d2[0] + s_d2[1];
  o.dmin = gmin;
  o.dmax = gmax;
}

// exp pass over [j0, j1) with one exp variant. Software-pipelined: the range reduction of
// vector j + L is issued with the rest of vector j.
template <class T, bool kMask, int kMode, bool kPf>
PPOBR_INLINE void exp_range(const T* lpn, const T* lpo, const T* msk, T* rbuf, std::int64_t j0,
                            std::int64_t j1, typename Ops<T>::V& s_k3a, typename Ops<T>::V& s_k3b,
                            const Prefetch& pf) {
  using O = Ops<T>;
  using V = typename O::V;
  constexpr int L = O::L;
  const V one = O::set1(T(1));
  auto finish = [&](std::int64_t j, V d, V w, const ExpStage<T>& st, V& acc) PPOBR_LAMBDA_INLINE {
    V f2q;
    typename O::M kz;
    const V r = exp_finish<T, kMode>(st, f2q, kz);
    O::store(rbuf + j, r);
    V k3;
    if constexpr (kMode == kExpK0) {
      k3 = f2q;
    } else {
      k3 = O::select(kz, f2q, r - (d + one));
    }
    if constexpr (kMask) {
      acc = O::fma(w, k3, acc);
    } else {
      acc = acc + k3;
    }
  };
  V w = one, wn = one;
  V d = load_d<T, kMask>(lpn, lpo, msk, j0, w);
  ExpStage<T> st = exp_reduce<T, kMode>(d);
  std::int64_t j = j0;
  for (; j + 3 * L <= j1; j += 2 * L) {
    if constexpr (kPf) {
      PPOBR_PREFETCH(pf.lpo + j * sizeof(T));
      if constexpr (kMask) PPOBR_PREFETCH(pf.msk + j * sizeof(T));
    }
    // stage 2 of vector j, both stages of j + L, stage 1 of j + 2L
    const V d1 = load_d<T, kMask>(lpn, lpo, msk, j + L, wn);
    const ExpStage<T> st1 = exp_reduce<T, kMode>(d1);
    finish(j, d, w, st, s_k3a);
    d = load_d<T, kMask>(lpn, lpo, msk, j + 2 * L, w);
    st = exp_reduce<T, kMode>(d);
    finish(j + L, d1, wn, st1, s_k3b);
  }
  // one or two vectors left; vector j is reduced already
  finish(j, d, w, st, s_k3a);
  if (j + L < j1) {
    const V d1 = load_d<T, kMask>(lpn, lpo, msk, j + L, wn);
    finish(j + L, d1, wn, exp_reduce<T, kMode>(d1), s_k3b);
  }
}

// exp pass: chunks with |d| <= k0_max use kExpK0, the others kGeneral (fast or safe).
template <class T, bool kMask, int kGeneral, bool kPf>
PPOBR_NOINLINE void exp_pass(const T* lpn, const T* lpo, const T* msk, T* rbuf, std::int64_t n,
                             MicroOut<T>& o, const Prefetch& pf) {
  using O = Ops<T>;
  typename O::V s_k3a = O::zero(), s_k3b = O::zero();
  std::int64_t j0 = 0;
  int c = 0;
  while (j0 < n) {
    // a run of chunks with the same variant is one loop
    const bool k0 = o.k0[c++];
    std::int64_t j1 = std::min(n, j0 + kChunk);
    while (j1 < n && o.k0[c] == k0) {
      j1 = std::min(n, j1 + kChunk);
      ++c;
    }
    if (k0) {
      exp_range<T, kMask, kExpK0, kPf>(lpn, lpo, msk, rbuf, j0, j1, s_k3a, s_k3b, pf);
    } else {
      exp_range<T, kMask, kGeneral, kPf>(lpn, lpo, msk, rbuf, j0, j1, s_k3a, s_k3b, pf);
    }
    j0 = j1;
  }
  o.s[kSumK3] = s_k3a + s_k3b;
}

// grad pass: objective, gradient, loss, dual-clip.
template <class T, bool kMask, bool kFactor, bool kDual, bool kPf>
PPOBR_NOINLINE void grad_pass(const T* rbuf, const T* adv, const T* msk, const T* fac, T* grad,
                              std::int64_t n, const Job<T>& job, MicroOut<T>& o,
                              const Prefetch& pf) {
  using O = Ops<T>;
  using V = typename O::V;
  using M = typename O::M;
  constexpr int L = O::L;
  const V zero = O::zero();
  const V lo = O::set1(job.lo);
  const V hi = O::set1(job.hi);
  const V cc = O::set1(job.dual);
  const V gneg = O::set1(job.gneg);
  V s_loss[2] = {zero, zero}, s_dual = zero;
  typename O::C n_dual = O::czero();
  auto step = [&](std::int64_t j, int u) PPOBR_LAMBDA_INLINE {
    const V r = O::load(rbuf + j);
    const V A = O::load(adv + j);
    const V rA = r * A;
    const V cA = O::min(O::max(r, lo), hi) * A;
    V obj = O::min(rA, cA);
    M sel = O::le(rA, cA);
    M dbind;
    if constexpr (kDual) {
      const V cdual = O::min(cc * A, zero);
      dbind = O::lt(obj, cdual);
      obj = O::max(obj, cdual);
      sel = O::mandnot(dbind, sel);
    }
    V g = gneg;
    V lterm = obj;
    V w;
    // weight before factor: a row's / segment's factor 1 / (S sum w) can be huge when its
    // weights are tiny, and factor * obj could overflow before a weight of 0 multiplies it
    // (inf * 0 = NaN; a fuzz finding); w * obj first, then w * factor <= 1 keeps it finite
    if constexpr (kMask) {
      w = O::load(msk + j);
      g = g * w;
      lterm = lterm * w;
    }
    if constexpr (kFactor) {
      const V f = O::load(fac + j);
      g = g * f;
      lterm = lterm * f;
    }
    O::store(grad + j, O::keep(sel, g * rA));
    s_loss[u] = s_loss[u] + lterm;
    if constexpr (kDual) {
      if constexpr (kMask) {
        s_dual = s_dual + O::keep(dbind, w);
      } else {
        n_dual = O::count(n_dual, dbind);
      }
    }
  };
  std::int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    if constexpr (kPf) {
      PPOBR_PREFETCH(pf.adv + j * sizeof(T));
    }
    step(j, 0);
    step(j + L, 1);
  }
  if (j < n) step(j, 0);
  o.s[kSumLoss] = s_loss[0] + s_loss[1];
  o.s[kSumDual] = s_dual;
  o.cnt[3] = n_dual;
}

// stats pass: ratio, entropy, clip fractions.
template <class T, bool kMask, bool kEnt, bool kPf>
PPOBR_NOINLINE void stats_pass(const T* rbuf, const T* adv, const T* ent, const T* msk,
                               std::int64_t n, const Job<T>& job, MicroOut<T>& o,
                               const Prefetch& pf) {
  using O = Ops<T>;
  using V = typename O::V;
  using M = typename O::M;
  using C = typename O::C;
  constexpr int L = O::L;
  const V zero = O::zero();
  const V lo = O::set1(job.lo);
  const V hi = O::set1(job.hi);
  V s_ent[2] = {zero, zero}, s_r[2] = {zero, zero};
  V s_clip = zero, s_low = zero, s_high = zero;
  C n_clip = O::czero(), n_low = O::czero(), n_high = O::czero();
  auto step = [&](std::int64_t j, int u) PPOBR_LAMBDA_INLINE {
    const V r = O::load(rbuf + j);
    const V A = O::load(adv + j);
    const M below = O::lt(r, lo);
    const M above = O::gt(r, hi);
    const M outside = O::mor(below, above);
    const M low = O::mand(below, O::lt(A, zero));
    const M high = O::mand(above, O::gt(A, zero));
    if constexpr (kMask) {
      const V w = O::load(msk + j);
      s_r[u] = O::fma(w, r, s_r[u]);
      if constexpr (kEnt) s_ent[u] = O::fma(w, O::load(ent + j), s_ent[u]);
      s_clip = s_clip + O::keep(outside, w);
      s_low = s_low + O::keep(low, w);
      s_high = s_high + O::keep(high, w);
    } else {
      s_r[u] = s_r[u] + r;
      if constexpr (kEnt) s_ent[u] = s_ent[u] + O::load(ent + j);
      n_clip = O::count(n_clip, outside);
      n_low = O::count(n_low, low);
      n_high = O::count(n_high, high);
    }
  };
  std::int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    if constexpr (kPf) {
      if constexpr (kEnt) PPOBR_PREFETCH(pf.ent + j * sizeof(T));
      PPOBR_PREFETCHW(pf.grad + j * sizeof(T));
    }
    step(j, 0);
    step(j + L, 1);
  }
  if (j < n) step(j, 0);
  o.s[kSumEnt] = s_ent[0] + s_ent[1];
  o.s[kSumRatio] = s_r[0] + s_r[1];
  o.s[kSumClip] = s_clip;
  o.s[kSumLow] = s_low;
  o.s[kSumHigh] = s_high;
  o.cnt[0] = n_clip;
  o.cnt[1] = n_low;
  o.cnt[2] = n_high;
}

// Per-block accumulation state: double lanes for the sums, integer lane counters.
template <class T>
struct BlockState {
  double acc[kNumSums][4];
  typename Ops<T>::C cnt[4];
  typename Ops<T>::V dmin, dmax;
};

// One micro-block (n a multiple of the lane count, n <= kMicro): the four passes, folded into
// the block state.
template <class T, bool kMask, bool kEnt, bool kFactor, bool kDual, bool kPf>
PPOBR_INLINE void micro_fold(const T* lpn, const T* lpo, const T* adv, const T* ent, const T* msk,
                             const T* fac, T* grad, std::int64_t n, const Job<T>& job,
                             BlockState<T>& st, const Prefetch& pf) {
  using O = Ops<T>;
  using K = ExpConsts<T>;
  MicroOut<T> o;
  alignas(64) T rbuf[kMicro];
  d_pass<T, kMask, kPf>(lpn, lpo, msk, n, o, pf);
  if (O::any(O::mor(O::lt(o.dmin, O::set1(K::fast_min)), O::gt(o.dmax, O::set1(K::fast_max))))) {
    exp_pass<T, kMask, kExpSafe, kPf>(lpn, lpo, msk, rbuf, n, o, pf);
  } else {
    exp_pass<T, kMask, kExpFast, kPf>(lpn, lpo, msk, rbuf, n, o, pf);
  }
  grad_pass<T, kMask, kFactor, kDual, kPf>(rbuf, adv, msk, fac, grad, n, job, o, pf);
  stats_pass<T, kMask, kEnt, kPf>(rbuf, adv, ent, msk, n, job, o, pf);
  O::acc4(o.s[kSumLoss], st.acc[kSumLoss]);
  if constexpr (kEnt) O::acc4(o.s[kSumEnt], st.acc[kSumEnt]);
  O::acc4(o.s[kSumRatio], st.acc[kSumRatio]);
  O::acc4(o.s[kSumD], st.acc[kSumD]);
  O::acc4(o.s[kSumD2], st.acc[kSumD2]);
  O::acc4(o.s[kSumK3], st.acc[kSumK3]);
  if constexpr (kMask) {
    O::acc4(o.s[kSumClip], st.acc[kSumClip]);
    O::acc4(o.s[kSumLow], st.acc[kSumLow]);
    O::acc4(o.s[kSumHigh], st.acc[kSumHigh]);
    if constexpr (kDual) O::acc4(o.s[kSumDual], st.acc[kSumDual]);
  } else {
    for (int k = 0; k < 4; ++k) st.cnt[k] = O::cadd(st.cnt[k], o.cnt[k]);
  }
  st.dmin = O::min(st.dmin, o.dmin);
  st.dmax = O::max(st.dmax, o.dmax);
}

template <class T>
void fill_factor(T* dst, const Job<T>& job, std::int64_t i, std::int64_t cnt) {
  if (job.factor_mode == FactorMode::Rows) {
    std::int64_t r = i / job.cols, c = i - r * job.cols;
    while (cnt > 0) {
      const std::int64_t k = std::min(cnt, job.cols - c);
      const T f = job.row_factor[r];
      for (std::int64_t t = 0; t < k; ++t) dst[t] = f;
      dst += k;
      cnt -= k;
      ++r;
      c = 0;
    }
  } else {
    const std::int64_t* ids = job.seg_ids + i * job.seg_stride;
    for (std::int64_t t = 0; t < cnt; ++t) dst[t] = job.seg_factor[ids[t * job.seg_stride]];
  }
}

template <class T, bool kEnt, bool kFactor, bool kDual>
void run_block_t(const Job<T>& job, std::int64_t b, BlockResult& out) {
  using O = Ops<T>;
  constexpr int L = O::L;
  const std::int64_t i0 = b * kBlock;
  const std::int64_t i1 = std::min(job.n, i0 + kBlock);
  const bool user_mask = job.in[4].data != nullptr;

  BlockState<T> st;
  for (auto& a : st.acc)
    for (double& x : a) x = 0.0;
  for (auto& c : st.cnt) c = O::czero();
  st.dmin = O::set1(std::numeric_limits<T>::infinity());
  st.dmax = O::set1(-std::numeric_limits<T>::infinity());

  alignas(64) T buf[6][kMicro];
  alignas(64) T gscratch[kMicro];
  const char* pf_dummy = reinterpret_cast<const char*>(gscratch);

  for (std::int64_t i = i0; i < i1; i += kMicro) {
    const std::int64_t m = std::min(kMicro, i1 - i);
    const std::int64_t nfull = m / L * L;
    if (nfull > 0) {
      const T* p[5];
      for (int k = 0; k < 5; ++k) {
        if ((k == 3 && !kEnt) || (k == 4 && !user_mask)) {
          p[k] = nullptr;
        } else if (job.flat[k]) {
          p[k] = job.in[k].data + i;
        } else {
          gather(buf[k], job.in[k], i, nfull);
          p[k] = buf[k];
        }
      }
      const T* f = nullptr;
      if constexpr (kFactor) {
        fill_factor(buf[5], job, i, nfull);
        f = buf[5];
      }
      T* g = job.grad ? job.grad + i : gscratch;
      // the next micro-block of the flat streams (byte addresses; possibly past the end of an
      // array: prefetching never faults)
      auto next = [&](int k) -> const char* {
        if (k < 5 && (!job.in[k].present() || !job.flat[k])) return pf_dummy;
        const T* base = k < 5 ? job.in[k].data : job.grad;
        if (base == nullptr) return pf_dummy;
        return reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(base) +
                                             static_cast<std::uintptr_t>(i + kMicro) * sizeof(T));
      };
      const Prefetch pf{next(0), next(1), next(2), next(3), next(4), next(5)};
      // software prefetch only pays off for batches that do not stay in cache
      if (user_mask) {
        if (job.prefetch) {
          micro_fold<T, true, kEnt, kFactor, kDual, true>(p[0], p[1], p[2], p[3], p[4], f, g, nfull,
                                                          job, st, pf);
        } else {
          micro_fold<T, true, kEnt, kFactor, kDual, false>(p[0], p[1], p[2], p[3], p[4], f, g,
                                                           nfull, job, st, pf);
        }
      } else {
        if (job.prefetch) {
          micro_fold<T, false, kEnt, kFactor, kDual, true>(p[0], p[1], p[2], p[3], p[4], f, g,
                                                           nfull, job, st, pf);
        } else {
          micro_fold<T, false, kEnt, kFactor, kDual, false>(p[0], p[1], p[2], p[3], p[4], f, g,
                                                            nfull, job, st, pf);
        }
      }
    }
    const std::int64_t rem = m - nfull;
    if (rem > 0) {
      // the last partial vector of the batch: padded with weight-0 lanes
      const std::int64_t ir = i + nfull;
      alignas(64) T tb[6][L];
      alignas(64) T tg[L];
      for (auto& row : tb)
        for (T& x : row) x = T(0);
      for (int k = 0; k < 4; ++k)
        if (k != 3 || kEnt) gather(tb[k], job.in[k], ir, rem);
      if (user_mask) {
        gather(tb[4], job.in[4], ir, rem);
      } else {
        for (std::int64_t t = 0; t < rem; ++t) tb[4][t] = T(1);
      }
      if constexpr (kFactor) fill_factor(tb[5], job, ir, rem);
      const char* d0 = pf_dummy;
      micro_fold<T, true, kEnt, kFactor, kDual, false>(tb[0], tb[1], tb[2], tb[3], tb[4], tb[5], tg,
                                                       L, job, st,
                                                       Prefetch{d0, d0, d0, d0, d0, d0});
      if (job.grad)
        for (std::int64_t t = 0; t < rem; ++t) job.grad[ir + t] = tg[t];
    }
  }

  for (int k = 0; k < kNumSums; ++k)
    out.s[k] = (st.acc[k][0] + st.acc[k][1]) + (st.acc[k][2] + st.acc[k][3]);
  for (int k = 0; k < 4; ++k) out.s[kSumClip + k] += static_cast<double>(O::count_sum(st.cnt[k]));
  out.dmin = static_cast<double>(O::hmin(st.dmin));
  out.dmax = static_cast<double>(O::hmax(st.dmax));
}

template <class T>
void run_block(const Job<T>& job, std::int64_t b, BlockResult& out) {
  const int v = (job.in[3].data != nullptr ? 4 : 0) +
                (job.factor_mode != FactorMode::None ? 2 : 0) + (job.dual > T(0) ? 1 : 0);
  switch (v) {
    case 0:
      run_block_t<T, false, false, false>(job, b, out);
      break;
    case 1:
      run_block_t<T, false, false, true>(job, b, out);
      break;
    case 2:
      run_block_t<T, false, true, false>(job, b, out);
      break;
    case 3:
      run_block_t<T, false, true, true>(job, b, out);
      break;
    case 4:
      run_block_t<T, true, false, false>(job, b, out);
      break;
    case 5:
      run_block_t<T, true, false, true>(job, b, out);
      break;
    case 6:
      run_block_t<T, true, true, false>(job, b, out);
      break;
    default:
      run_block_t<T, true, true, true>(job, b, out);
      break;
  }
}

// Mask pre-pass over the flattened range [i0, i1): sum of weights (in double lanes, fixed
// order) and the minimum weight. NaN or Inf anywhere makes the sum non-finite.
template <class T>
void mask_range(const View2D<T>& mask, bool flat, std::int64_t i0, std::int64_t i1, double& sum,
                double& minw) {
  using O = Ops<T>;
  using V = typename O::V;
  using D = typename O::D;
  constexpr int L = O::L;
  D a[4] = {O::dzero(), O::dzero(), O::dzero(), O::dzero()};  // two vectors in flight
  V vmin = O::set1(std::numeric_limits<T>::infinity());
  alignas(64) T buf[kMicro];
  for (std::int64_t i = i0; i < i1; i += kMicro) {
    const std::int64_t m = std::min(kMicro, i1 - i);
    const T* p = mask.data + i;
    if (!flat) {
      gather(buf, mask, i, m);
      p = buf;
    }
    std::int64_t j = 0;
    for (; j + 2 * L <= m; j += 2 * L) {
      const V w0 = O::load(p + j);
      const V w1 = O::load(p + j + L);
      O::dadd2(a[0], a[1], w0);
      O::dadd2(a[2], a[3], w1);
      vmin = O::min(vmin, O::min(w0, w1));
    }
    if (j < m) {
      alignas(64) T t[2 * L];
      for (int k = 0; k < 2 * L; ++k) t[k] = T(0);
      for (std::int64_t k = j; k < m; ++k) t[k - j] = p[k];
      const V w0 = O::load(t);
      const V w1 = O::load(t + L);
      O::dadd2(a[0], a[1], w0);
      O::dadd2(a[2], a[3], w1);
      vmin = O::min(vmin, O::min(w0, w1));
    }
  }
  sum = (O::dsum(a[0]) + O::dsum(a[1])) + (O::dsum(a[2]) + O::dsum(a[3]));
  minw = static_cast<double>(O::hmin(vmin));
}
