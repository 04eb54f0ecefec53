// Fuzz target: the fused surrogate kernel and the distribution helpers, through the C ABI,
// with fuzzed dtypes, shapes, strides (0 and negative included), options, segment ids and
// values (NaN/Inf/extremes included).
//
// Every view is backed by a buffer holding exactly the elements its own shape and strides
// address, so AddressSanitizer flags any read outside what an input declares. Shapes that
// cannot be backed (non-positive, or a rows * cols that overflows int64) point at a single
// element and must be rejected before anything is read.
//
// Invariants: the status is PPOBR_OK or PPOBR_ERROR_INVALID_ARGUMENT (never internal, never a
// crash); an error names a known argument and its message starts with it; on success the loss,
// gradient and statistics are not NaN, counts are >= 0, fractions lie in [0, count],
// ratio_min <= ratio_max, and results are bit-identical for 1 and several threads.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "ppobr/c_api.h"

namespace {

constexpr std::int64_t kMaxElems = 1 << 14;  // largest buffer a view may address
constexpr std::int64_t kMaxStride = 1 << 10;

bool known_argument(const std::string& a) {
  static const std::set<std::string> kArgs = {
      "logp_new",     "logp_old",       "advantages", "entropy",     "mask",      "segment_ids",
      "num_segments", "segment_stride", "eps_low",    "eps_high",    "dual_clip", "aggregation",
      "num_threads",  "dtype",          "inputs",     "options",     "grad",      "logits",
      "actions",      "action_stride",  "log_std",    "entropy_out", "logp_out",  "batch_ndim"};
  return kArgs.count(a) > 0;
}

// PPOBR_FUZZ_VERBOSE=1 prints each call's arguments (to turn a crash input into a bug report).
bool verbose() {
  static const bool v = std::getenv("PPOBR_FUZZ_VERBOSE") != nullptr;
  return v;
}

void dump_view(const char* name, int32_t dtype, const ppobr_view2d& v) {
  if (!verbose()) return;
  std::fprintf(stderr, "  %s: data %s rows %lld cols %lld row_stride %lld col_stride %lld", name,
               v.data ? "set" : "NULL", (long long)v.rows, (long long)v.cols,
               (long long)v.row_stride, (long long)v.col_stride);
  if (v.data && v.rows > 0 && v.cols > 0 && v.rows <= 64 && v.cols <= 64 && v.rows * v.cols <= 64) {
    std::fprintf(stderr, " values [");
    for (std::int64_t r = 0; r < v.rows; ++r)
      for (std::int64_t c = 0; c < v.cols; ++c) {
        const std::int64_t off = r * v.row_stride + c * v.col_stride;
        const double x = dtype == PPOBR_FLOAT32 ? static_cast<const float*>(v.data)[off]
                                                : static_cast<const double*>(v.data)[off];
        std::fprintf(stderr, "%s%.9g", r + c ? ", " : "", x);
      }
    std::fprintf(stderr, "]");
  }
  std::fprintf(stderr, "\n");
}

void check_error(ppobr_status st, const char* what) {
  FUZZ_ASSERT(st == PPOBR_OK || st == PPOBR_ERROR_INVALID_ARGUMENT, "%s returned %d (%s): %s", what,
              st, ppobr_status_string(st), ppobr_last_error_message());
  if (st == PPOBR_OK) return;
  const std::string arg = ppobr_last_error_argument(), msg = ppobr_last_error_message();
  FUZZ_ASSERT(known_argument(arg), "%s: error names unknown argument '%s': %s", what, arg.c_str(),
              msg.c_str());
  FUZZ_ASSERT(msg.compare(0, arg.size() + 2, arg + ": ") == 0,
              "%s: message does not start with '%s: ': %s", what, arg.c_str(), msg.c_str());
}

// Extent of the addresses a [rows, cols] view with these strides touches, or false when the
// view cannot be backed (then it must be rejected without being read).
bool extent(std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs,
            std::int64_t* lo, std::int64_t* n) {
  if (rows <= 0 || cols <= 0 || rows > kMaxElems || cols > kMaxElems || rows * cols > kMaxElems)
    return false;
  if (rs < -kMaxStride || rs > kMaxStride || cs < -kMaxStride || cs > kMaxStride) return false;
  const std::int64_t r = (rows - 1) * rs, c = (cols - 1) * cs;
  *lo = std::min<std::int64_t>(0, r) + std::min<std::int64_t>(0, c);
  const std::int64_t hi = std::max<std::int64_t>(0, r) + std::max<std::int64_t>(0, c);
  *n = hi - *lo + 1;
  return *n <= 4 * kMaxElems;
}

enum class Kind { LogProb, Advantage, Entropy, Mask };

// Set when an input got a value of magnitude > 1e6 (or NaN/Inf): finite-but-extreme inputs may
// overflow float arithmetic (documented for the ratio: r = inf), so the NaN checks on the
// outputs apply only to batches without them.
bool g_extreme = false;

double value(FuzzedDataProvider& p, Kind k) {
  const std::uint8_t b = p.ConsumeIntegral<std::uint8_t>();
  if (b >= 248) {  // ~3%: anything, NaN/Inf included
    const double x = fuzz::any_double(p);
    if (!(std::fabs(x) <= 1e6)) g_extreme = true;
    return x;
  }
  const double x = (static_cast<double>(b) - 124.0) / 31.0;  // [-4, 4]
  switch (k) {
    case Kind::LogProb:
      return -std::fabs(x) * 2.0;
    case Kind::Advantage:
      return x;
    case Kind::Entropy:
      return std::fabs(x);
    case Kind::Mask:
      return b < 16 ? 0.0 : (b < 232 ? 1.0 : std::fabs(x) / 4.0);
  }
  return x;
}

// Owns the storage behind one fuzzed view.
struct View {
  std::vector<double> d64;
  std::vector<float> d32;
  ppobr_view2d v{};
};

std::int64_t pick_stride(FuzzedDataProvider& p, std::int64_t natural) {
  if (natural < -kMaxStride || natural > kMaxStride)
    natural = 1;  // keeps the arithmetic below in range
  switch (p.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return 0;
    case 1:
      return -natural;
    case 2:
      return natural + p.ConsumeIntegralInRange<std::int64_t>(1, 3);
    case 3:
      return fuzz::any_int64(p, -8, 8);
    default:
      return natural;
  }
}

void make_view(FuzzedDataProvider& p, int32_t dtype, std::int64_t rows, std::int64_t cols,
               Kind kind, View* out) {
  std::int64_t rs = cols, cs = 1;
  if (p.ConsumeIntegralInRange<int>(0, 3) == 0) {  // unusual strides
    cs = pick_stride(p, 1);
    rs = pick_stride(p, cols <= kMaxElems && cs >= -kMaxStride && cs <= kMaxStride
                            ? cols * (cs == 0 ? 1 : cs)
                            : 1);
  }
  if (rows == 1 && p.ConsumeBool()) rs = 0;  // the 1-D convention
  std::int64_t lo = 0, n = 1;
  const bool backed = extent(rows, cols, rs, cs, &lo, &n);
  if (!backed) lo = 0, n = 1;
  if (dtype == PPOBR_FLOAT32) {
    out->d32.resize(static_cast<std::size_t>(n));
    for (auto& x : out->d32) x = static_cast<float>(value(p, kind));
    out->v.data = out->d32.data() - lo;
  } else {
    out->d64.resize(static_cast<std::size_t>(n));
    for (auto& x : out->d64) x = value(p, kind);
    out->v.data = out->d64.data() - lo;
  }
  out->v.rows = rows;
  out->v.cols = cols;
  out->v.row_stride = backed ? rs : 0;
  out->v.col_stride = backed ? cs : 0;
}

// A shape: usually small and valid; sometimes empty, negative or overflowing.
void pick_shape(FuzzedDataProvider& p, std::int64_t* rows, std::int64_t* cols) {
  switch (p.ConsumeIntegralInRange<int>(0, 15)) {
    case 0:  // empty or negative
      *rows = p.ConsumeIntegralInRange<std::int64_t>(-2, 2);
      *cols = p.ConsumeIntegralInRange<std::int64_t>(-2, 2);
      break;
    case 1:  // rows * cols overflows int64
      *rows = std::int64_t{1} << p.ConsumeIntegralInRange<int>(31, 62);
      *cols = (std::int64_t{1} << 62) / *rows * p.ConsumeIntegralInRange<std::int64_t>(4, 64);
      if (p.ConsumeBool()) std::swap(*rows, *cols);
      break;
    case 2:
    case 3:
    case 4:
    case 5:
      *rows = 1;
      *cols = p.ConsumeIntegralInRange<std::int64_t>(1, 300);
      break;
    default:
      *rows = p.ConsumeIntegralInRange<std::int64_t>(1, 12);
      *cols = p.ConsumeIntegralInRange<std::int64_t>(1, 40);
      break;
  }
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

void fuzz_surrogate(FuzzedDataProvider& p) {
  const int32_t dtype = p.ConsumeIntegralInRange<int>(0, 15) == 0
                            ? p.ConsumeIntegral<int32_t>()
                            : (p.ConsumeBool() ? PPOBR_FLOAT64 : PPOBR_FLOAT32);
  const int32_t real_dtype =
      dtype == PPOBR_FLOAT32 ? PPOBR_FLOAT32 : PPOBR_FLOAT64;  // storage for a bad dtype
  std::int64_t rows = 0, cols = 0;
  pick_shape(p, &rows, &cols);

  View views[5];
  const Kind kinds[5] = {Kind::LogProb, Kind::LogProb, Kind::Advantage, Kind::Entropy, Kind::Mask};
  for (int i = 0; i < 5; ++i) {
    std::int64_t r = rows, c = cols;
    if (p.ConsumeIntegralInRange<int>(0, 15) == 0) pick_shape(p, &r, &c);  // a mismatched input
    make_view(p, real_dtype, r, c, kinds[i], &views[i]);
  }
  // The batch shape is logp_new's (another input may have been given a mismatched one).
  rows = views[0].v.rows;
  cols = views[0].v.cols;
  ppobr_surrogate_inputs in;
  ppobr_surrogate_inputs_init(&in);
  in.dtype = dtype;
  in.logp_new = views[0].v;
  in.logp_old = views[1].v;
  in.advantages = views[2].v;
  if (p.ConsumeBool()) in.entropy = views[3].v;
  if (p.ConsumeBool()) in.mask = views[4].v;
  if (p.ConsumeIntegralInRange<int>(0, 31) == 0)
    in.logp_old.data = nullptr;  // a missing required input

  ppobr_surrogate_options opt;
  ppobr_surrogate_options_init(&opt);
  if (p.ConsumeBool()) {
    opt.eps_low =
        p.ConsumeBool() ? fuzz::any_double(p) : p.ConsumeFloatingPointInRange<double>(0.0, 0.99);
    opt.eps_high =
        p.ConsumeBool() ? fuzz::any_double(p) : p.ConsumeFloatingPointInRange<double>(0.0, 2.0);
  }
  if (p.ConsumeBool())
    opt.dual_clip =
        p.ConsumeBool() ? fuzz::any_double(p) : p.ConsumeFloatingPointInRange<double>(1.0, 10.0);
  // An eps_high so large that (1 + eps_high) * A overflows makes an overflowing ratio's clipped
  // term +inf for A > 0 while A < 0 gives -inf: the loss is then NaN (a known limit of such
  // an eps_high, not of the kernel). Such batches count as extreme.
  if (!(std::fabs(opt.eps_high) <= 1e6)) g_extreme = true;
  opt.aggregation = p.ConsumeIntegralInRange<int>(0, 15) == 0
                        ? p.ConsumeIntegral<int32_t>()
                        : p.ConsumeIntegralInRange<int32_t>(0, 2);
  opt.num_threads = p.ConsumeIntegralInRange<int>(0, 15) == 0
                        ? p.ConsumeIntegral<int32_t>()
                        : p.ConsumeIntegralInRange<int32_t>(0, 3);

  // Segment ids for the sequence aggregations.
  std::vector<std::int64_t> seg;
  if (p.ConsumeBool()) {
    const std::int64_t num_segments = p.ConsumeIntegralInRange<int>(0, 7) == 0
                                          ? fuzz::any_int64(p, -2, 2)
                                          : p.ConsumeIntegralInRange<std::int64_t>(1, 9);
    std::int64_t stride = 1;
    switch (p.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:
        stride = 0;
        break;
      case 1:
        stride = -1;
        break;
      case 2:
        stride = 2;
        break;
      case 3:
        stride = fuzz::any_int64(p, -3, 3);
        break;
      default:
        break;
    }
    std::int64_t lo = 0, n = 1;
    const bool backed =
        extent(1, rows > 0 && cols > 0 && rows <= kMaxElems && cols <= kMaxElems ? rows * cols : 0,
               0, stride, &lo, &n);
    if (!backed) lo = 0, n = 1;
    seg.resize(static_cast<std::size_t>(n));
    // Mostly valid, non-decreasing ids; sometimes anything (out of range included).
    const std::int64_t last =
        std::min<std::int64_t>(std::max<std::int64_t>(num_segments, 1), 1 << 20) - 1;
    std::int64_t cur = 0;
    for (auto& s : seg) {
      const int b = p.ConsumeIntegralInRange<int>(0, 31);
      if (b == 0)
        s = fuzz::any_int64(p, -2, last + 2);
      else if (b < 4)
        cur = std::min<std::int64_t>(cur + 1, last), s = cur;
      else
        s = cur;
    }
    in.segment_ids = seg.data() - lo;
    in.segment_stride = backed ? stride : 0;
    in.num_segments = num_segments;
  }
  // The batch's rank: mostly read off the views (0), sometimes stated (1, 2) or out of range.
  switch (p.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      in.batch_ndim = 1;
      break;
    case 1:
      in.batch_ndim = 2;
      break;
    case 2:
      in.batch_ndim = static_cast<int32_t>(fuzz::any_int64(p, -2, 4));
      break;
    default:
      in.batch_ndim = 0;
      break;
  }

  // The gradient buffer: exactly rows * cols elements of logp_new's shape (the batch's), or
  // absent. Filled with NaN: every element must be overwritten on success.
  std::int64_t lo = 0, n = 0;
  const bool grad_ok =
      extent(rows, cols, cols, 1, &lo, &n) && p.ConsumeIntegralInRange<int>(0, 3) != 0;
  std::vector<double> g64;
  std::vector<float> g32;
  void* grad = nullptr;
  if (grad_ok) {
    if (real_dtype == PPOBR_FLOAT32) {
      g32.assign(static_cast<std::size_t>(rows * cols), std::numeric_limits<float>::quiet_NaN());
      grad = g32.data();
    } else {
      g64.assign(static_cast<std::size_t>(rows * cols), std::numeric_limits<double>::quiet_NaN());
      grad = g64.data();
    }
  }

  if (verbose()) {
    std::fprintf(stderr,
                 "ppobr_clipped_surrogate: dtype %d, eps_low %.17g eps_high %.17g dual_clip %.17g "
                 "aggregation %d "
                 "num_threads %d, grad %s\n",
                 dtype, opt.eps_low, opt.eps_high, opt.dual_clip, opt.aggregation, opt.num_threads,
                 grad ? "set" : "NULL");
    dump_view("logp_new", real_dtype, in.logp_new);
    dump_view("logp_old", real_dtype, in.logp_old);
    dump_view("advantages", real_dtype, in.advantages);
    dump_view("entropy", real_dtype, in.entropy);
    dump_view("mask", real_dtype, in.mask);
    std::fprintf(stderr, "  segment_ids %s stride %lld num_segments %lld batch_ndim %d\n",
                 in.segment_ids ? "set" : "NULL", (long long)in.segment_stride,
                 (long long)in.num_segments, (int)in.batch_ndim);
  }
  double loss = 0.0;
  ppobr_surrogate_stats stats;
  std::memset(&stats, 0, sizeof stats);
  const ppobr_status st = ppobr_clipped_surrogate(&in, &opt, grad, &loss, &stats);
  if (verbose())
    std::fprintf(stderr, "  -> status %d %s; loss %.17g\n", st, ppobr_last_error_message(), loss);
  check_error(st, "ppobr_clipped_surrogate");
  if (st != PPOBR_OK) return;

  // Success: sane outputs (no NaN unless an input was extreme; see g_extreme).
  const bool moderate = !g_extreme;
  if (moderate)
    FUZZ_ASSERT(!std::isnan(loss), "NaN loss from accepted inputs (rows %lld, cols %lld)",
                (long long)rows, (long long)cols);
  std::vector<double> grad_copy;
  for (float x : g32) grad_copy.push_back(x);
  for (double x : g64) grad_copy.push_back(x);
  for (std::size_t i = 0; i < grad_copy.size() && moderate; ++i)
    FUZZ_ASSERT(!std::isnan(grad_copy[i]),
                "NaN (or unwritten) gradient at %zu from accepted inputs", i);
  for (int k = 0; k < PPOBR_NUM_STATS; ++k) {
    const double s = stats.sum[k], c = stats.count[k];
    FUZZ_ASSERT(c >= 0.0 && !std::isnan(c), "stat %s count %.17g", ppobr_stat_name(k), c);
    if (moderate) {
      FUZZ_ASSERT(std::isfinite(c), "stat %s count %.17g", ppobr_stat_name(k), c);
      if (c > 0.0)
        FUZZ_ASSERT(!std::isnan(s), "stat %s sum is NaN with count %.17g", ppobr_stat_name(k), c);
    }
    if (moderate && k >= PPOBR_STAT_CLIP_FRACTION && k <= PPOBR_STAT_DUAL_CLIP_FRACTION)
      // float32 batches sum in float within micro-blocks: allow float rounding.
      FUZZ_ASSERT(s >= 0.0 && s <= c * (1.0 + (real_dtype == PPOBR_FLOAT32 ? 1e-5 : 1e-12)),
                  "fraction %s: sum %.17g count %.17g", ppobr_stat_name(k), s, c);
  }
  if (stats.count[PPOBR_STAT_RATIO_MIN] > 0.0 && moderate)
    FUZZ_ASSERT(stats.sum[PPOBR_STAT_RATIO_MIN] <= stats.sum[PPOBR_STAT_RATIO_MAX],
                "ratio_min %.17g > ratio_max %.17g", stats.sum[PPOBR_STAT_RATIO_MIN],
                stats.sum[PPOBR_STAT_RATIO_MAX]);

  // Thread count never changes a bit.
  ppobr_surrogate_options opt2 = opt;
  opt2.num_threads = opt.num_threads == 1 ? 3 : 1;
  std::vector<double> g2_64(g64.size(), std::numeric_limits<double>::quiet_NaN());
  std::vector<float> g2_32(g32.size(), std::numeric_limits<float>::quiet_NaN());
  void* grad2 = grad == nullptr ? nullptr
                                : (real_dtype == PPOBR_FLOAT32 ? static_cast<void*>(g2_32.data())
                                                               : static_cast<void*>(g2_64.data()));
  double loss2 = 0.0;
  ppobr_surrogate_stats stats2;
  const ppobr_status st2 = ppobr_clipped_surrogate(&in, &opt2, grad2, &loss2, &stats2);
  FUZZ_ASSERT(st2 == PPOBR_OK, "accepted with %d threads, rejected with %d: %s", opt.num_threads,
              opt2.num_threads, ppobr_last_error_message());
  FUZZ_ASSERT(fuzz::bits(loss) == fuzz::bits(loss2),
              "loss differs between %d and %d threads: %.17g vs %.17g", opt.num_threads,
              opt2.num_threads, loss, loss2);
  FUZZ_ASSERT(std::memcmp(&stats, &stats2, sizeof stats) == 0,
              "stats differ between %d and %d threads", opt.num_threads, opt2.num_threads);
  FUZZ_ASSERT(g32.empty() || std::memcmp(g32.data(), g2_32.data(), g32.size() * sizeof(float)) == 0,
              "float grad differs between thread counts");
  FUZZ_ASSERT(same_bits(g64, g2_64) || g64.empty(), "grad differs between thread counts");
}

void fuzz_categorical(FuzzedDataProvider& p) {
  const int32_t dtype = p.ConsumeIntegralInRange<int>(0, 15) == 0
                            ? p.ConsumeIntegral<int32_t>()
                            : (p.ConsumeBool() ? PPOBR_FLOAT64 : PPOBR_FLOAT32);
  const int32_t real_dtype = dtype == PPOBR_FLOAT32 ? PPOBR_FLOAT32 : PPOBR_FLOAT64;
  std::int64_t rows = 0, cols = 0;
  pick_shape(p, &rows, &cols);
  View logits;
  make_view(p, real_dtype, rows, cols, Kind::Advantage, &logits);
  // Actions: rows entries at action_stride.
  std::int64_t astride = 1;
  switch (p.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      astride = 0;
      break;
    case 1:
      astride = -1;
      break;
    case 2:
      astride = 3;
      break;
    case 3:
      astride = fuzz::any_int64(p, -4, 4);
      break;
    default:
      break;
  }
  std::int64_t lo = 0, n = 1;
  const bool backed = extent(1, rows, 0, astride, &lo, &n);
  if (!backed) lo = 0, n = 1;
  std::vector<std::int64_t> actions(static_cast<std::size_t>(n));
  for (auto& a : actions)
    a = p.ConsumeIntegralInRange<int>(0, 15) == 0
            ? fuzz::any_int64(p, -1, cols + 1)
            : p.ConsumeIntegralInRange<std::int64_t>(
                  0, std::max<std::int64_t>(0, std::min<std::int64_t>(cols - 1, 1000)));
  const std::size_t out_n = backed && rows <= kMaxElems ? static_cast<std::size_t>(rows) : 0;
  std::vector<double> lp64(out_n), ent64(out_n);
  std::vector<float> lp32(out_n), ent32(out_n);
  const bool want_lp = p.ConsumeIntegralInRange<int>(0, 3) != 0, want_ent = p.ConsumeBool();
  void* lp = nullptr;
  void* ent = nullptr;
  if (out_n > 0) {
    lp = want_lp ? (real_dtype == PPOBR_FLOAT32 ? static_cast<void*>(lp32.data())
                                                : static_cast<void*>(lp64.data()))
                 : nullptr;
    ent = want_ent ? (real_dtype == PPOBR_FLOAT32 ? static_cast<void*>(ent32.data())
                                                  : static_cast<void*>(ent64.data()))
                   : nullptr;
  }
  const int32_t threads = p.ConsumeIntegralInRange<int32_t>(-1, 3);
  if (verbose()) {
    std::fprintf(stderr,
                 "ppobr_categorical_logprob_entropy: dtype %d, action_stride %lld, logp_out %s, "
                 "entropy_out %s, "
                 "num_threads %d\n",
                 dtype, (long long)(backed ? astride : 0), lp ? "set" : "NULL",
                 ent ? "set" : "NULL", threads);
    dump_view("logits", real_dtype, logits.v);
  }
  const ppobr_status st = ppobr_categorical_logprob_entropy(dtype, &logits.v, actions.data() - lo,
                                                            backed ? astride : 0, lp, ent, threads);
  if (verbose()) std::fprintf(stderr, "  -> status %d %s\n", st, ppobr_last_error_message());
  check_error(st, "ppobr_categorical_logprob_entropy");
  if (st != PPOBR_OK) return;
  const double log_a = std::log(static_cast<double>(cols));
  for (std::size_t i = 0; i < out_n; ++i) {
    const double l = real_dtype == PPOBR_FLOAT32 ? lp32[i] : lp64[i];
    const double e = real_dtype == PPOBR_FLOAT32 ? ent32[i] : ent64[i];
    if (lp) FUZZ_ASSERT(!std::isnan(l) && l <= 1e-5, "log-prob %.17g at row %zu", l, i);
    if (ent)
      FUZZ_ASSERT(!std::isnan(e) && e >= -1e-4 && e <= log_a * (1.0 + 1e-5) + 1e-5,
                  "entropy %.17g at row %zu (log A = %.17g)", e, i, log_a);
  }
}

void fuzz_gaussian(FuzzedDataProvider& p) {
  const int32_t dtype = p.ConsumeIntegralInRange<int>(0, 15) == 0
                            ? p.ConsumeIntegral<int32_t>()
                            : (p.ConsumeBool() ? PPOBR_FLOAT64 : PPOBR_FLOAT32);
  const int32_t real_dtype = dtype == PPOBR_FLOAT32 ? PPOBR_FLOAT32 : PPOBR_FLOAT64;
  std::int64_t rows = 0, cols = 0;
  pick_shape(p, &rows, &cols);
  View log_std;
  make_view(p, real_dtype, rows, cols, Kind::Advantage, &log_std);
  const std::size_t out_n = rows > 0 && rows <= kMaxElems ? static_cast<std::size_t>(rows) : 1;
  std::vector<double> e64(out_n);
  std::vector<float> e32(out_n);
  void* out =
      real_dtype == PPOBR_FLOAT32 ? static_cast<void*>(e32.data()) : static_cast<void*>(e64.data());
  if (verbose()) {
    std::fprintf(stderr, "ppobr_gaussian_entropy: dtype %d\n", dtype);
    dump_view("log_std", real_dtype, log_std.v);
  }
  const ppobr_status st = ppobr_gaussian_entropy(dtype, &log_std.v, out);
  if (verbose()) std::fprintf(stderr, "  -> status %d %s\n", st, ppobr_last_error_message());
  check_error(st, "ppobr_gaussian_entropy");
  if (st != PPOBR_OK) return;
  for (std::size_t i = 0; i < out_n; ++i) {
    const double e = real_dtype == PPOBR_FLOAT32 ? e32[i] : e64[i];
    FUZZ_ASSERT(!std::isnan(e), "NaN Gaussian entropy at row %zu", i);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  g_extreme = false;
  switch (p.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      fuzz_categorical(p);
      break;
    case 1:
      fuzz_gaussian(p);
      break;
    default:
      fuzz_surrogate(p);
      break;
  }
  return 0;
}
