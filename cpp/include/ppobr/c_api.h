/* The C ABI of ppobr: the clip-range controllers and the fused PPO surrogate kernel,
 * callable from C, Rust, C#, Julia, Go, ... with no C++ and no Python involved.
 *
 * This header is C89 / C99 / C++ compatible (it only needs <stddef.h> and <stdint.h>).
 *
 * ---------------------------------------------------------------------------------------
 * Conventions
 *
 *  - Every function that can fail returns a ppobr_status: PPOBR_OK (0) on success, else an
 *    error code. No C++ exception ever crosses this boundary, whatever the input.
 *
 *  - Error details live in thread-local storage. After a call returns an error code,
 *      ppobr_last_error_code()      the same code,
 *      ppobr_last_error_argument()  the name of the argument or config field at fault
 *                                   ("eps0", "logp_old", "state", "controller", ...),
 *      ppobr_last_error_message()   a readable message that starts with that name,
 *                                   e.g. "eps0: must be finite and > 0, got -1".
 *    Every ppobr_* call (other than ppobr_last_error_*, ppobr_status_string, ppobr_version,
 *    ppobr_c_api_version and ppobr_stat_name) first clears the calling thread's last error,
 *    so after a successful call the code is PPOBR_OK and the strings are empty (""), never
 *    NULL. The returned strings stay valid until the next ppobr_* call on the same thread;
 *    copy them if you need them longer. Errors on one thread never show on another.
 *
 *  - On error, an output handle (ppobr_controller **out) is set to NULL when out itself is
 *    not NULL, and every other output is left unchanged (the surrogate's grad buffer may be
 *    partially written).
 *
 *  - Handles are opaque. A controller handle is not thread-safe: use one handle from one
 *    thread at a time (distinct handles may be used concurrently). The kernel functions
 *    hold no global state and may be called concurrently from any number of threads.
 *
 *  - Boolean-like fields are int32_t: 0 is false, anything else true.
 *
 * Error codes
 *   PPOBR_ERROR_INVALID_ARGUMENT  a rejected input: a bad config value, a NULL pointer where
 *                                 one is required, mismatched shapes, NaN/Inf in the kernel's
 *                                 inputs, malformed serialized bytes ("state"), ...
 *                                 ppobr_last_error_argument() names it.
 *   PPOBR_ERROR_BUFFER_TOO_SMALL  ppobr_controller_serialize / _diagnostics / _config_items:
 *                                 the caller's buffer is too small; the required size was
 *                                 written to the size/count out-parameter.
 *   PPOBR_ERROR_OUT_OF_MEMORY     an allocation failed.
 *   PPOBR_ERROR_INTERNAL          any other failure (a bug: please report it).
 *
 * Example
 *   ppobr_ppobr_config cfg;
 *   ppobr_controller *ctl = NULL;
 *   ppobr_observation obs;
 *   double eps;
 *   ppobr_ppobr_config_init(&cfg);                  (the paper's defaults)
 *   cfg.has_entropy_ref = 1; cfg.entropy_ref = log(2.0);
 *   if (ppobr_controller_create_ppobr(&cfg, &ctl) != PPOBR_OK) {
 *     fprintf(stderr, "%s\n", ppobr_last_error_message()); return 1;
 *   }
 *   ppobr_observation_init(&obs);
 *   obs.has_entropy = 1; obs.entropy = mean_entropy;
 *   obs.episode_returns = returns; obs.num_episode_returns = n_returns;
 *   ppobr_controller_update(ctl, &obs, &eps);      (once per rollout)
 *   ...
 *   ppobr_controller_destroy(ctl);
 */
#ifndef PPOBR_C_API_H
#define PPOBR_C_API_H

#include <stddef.h>
#include <stdint.h>

/* Symbol visibility. Nothing to define when linking the static library (ppobr::core) or
 * the shared library (ppobr::c) on ELF platforms; on Windows the ppobr::c target defines
 * PPOBR_C_SHARED for its users. */
#if defined(_WIN32) && defined(PPOBR_C_SHARED)
#if defined(PPOBR_C_BUILDING)
#define PPOBR_C_API __declspec(dllexport)
#else
#define PPOBR_C_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define PPOBR_C_API __attribute__((visibility("default")))
#else
#define PPOBR_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this C interface; bumped on every incompatible change of a struct or a
 * signature below. Compare with ppobr_c_api_version() at run time when loading the
 * shared library dynamically. */
#define PPOBR_C_API_VERSION 1

/* ======================================================================================= */
/* Status and errors                                                                       */

typedef int32_t ppobr_status;
#define PPOBR_OK 0
#define PPOBR_ERROR_INVALID_ARGUMENT 1
#define PPOBR_ERROR_BUFFER_TOO_SMALL 2
#define PPOBR_ERROR_OUT_OF_MEMORY 3
#define PPOBR_ERROR_INTERNAL 4

/* A static name for a status code: "ok", "invalid_argument", "buffer_too_small",
 * "out_of_memory", "internal", or "unknown". */
PPOBR_C_API const char* ppobr_status_string(ppobr_status status);

/* The calling thread's last error (see Conventions). Never NULL. */
PPOBR_C_API ppobr_status ppobr_last_error_code(void);
PPOBR_C_API const char* ppobr_last_error_argument(void);
PPOBR_C_API const char* ppobr_last_error_message(void);

/* The library version ("0.1.0") and PPOBR_C_API_VERSION of the compiled library. */
PPOBR_C_API const char* ppobr_version(void);
PPOBR_C_API int32_t ppobr_c_api_version(void);

/* ======================================================================================= */
/* Clip-range controllers                                                                  */

typedef struct ppobr_controller ppobr_controller; /* opaque */

/* PPO-BR (docs/SPEC.md section 1):
 *   eps_t = clip(eps0 * (1 + lambda1 * tanh(phi(H_t)) - lambda2 * tanh(psi(z_t))), eps_min,
 * eps_max) */
#define PPOBR_PSI_PLATEAU 0  /* psi = 1 - tanh|z|: contract when returns stop moving (default) */
#define PPOBR_PSI_PROGRESS 1 /* psi = clip(z, 0, 1): contract while returns rise */

typedef struct ppobr_ppobr_config {
  double eps0;             /* > 0, default 0.2 */
  double lambda1;          /* entropy-driven expansion weight, >= 0, default 0.5 */
  double lambda2;          /* reward-guided contraction weight, >= 0, default 0.3 */
  int64_t window;          /* k, completed-episode returns in the trend window, >= 2, default 10 */
  int32_t psi_mode;        /* PPOBR_PSI_PLATEAU (default) or PPOBR_PSI_PROGRESS */
  int32_t has_entropy_ref; /* 0: H_ref is the first finite entropy observed (default) */
  double entropy_ref;      /* H_ref when has_entropy_ref; e.g. log(n_actions) */
  double entropy_floor;    /* H_floor, default 0; must be < H_ref */
  int32_t has_eps_min;     /* 0: eps_min = eps0 * (1 - lambda2) (default) */
  double eps_min;
  int32_t has_eps_max; /* 0: eps_max = eps0 * (1 + lambda1) (default) */
  double eps_max;
} ppobr_ppobr_config;

/* Fills the paper's defaults (eps0 0.2, lambda1 0.5, lambda2 0.3, window 10, plateau). */
PPOBR_C_API void ppobr_ppobr_config_init(ppobr_ppobr_config* config);

/* KL-adaptive baseline: if kl > kl_target * tolerance: eps /= rate; if kl < kl_target /
 * tolerance: eps *= rate; then clip to [eps_min, eps_max]. */
typedef struct ppobr_kl_adaptive_config {
  double eps0;      /* default 0.2, in [eps_min, eps_max] */
  double kl_target; /* default 0.01, > 0 */
  double tolerance; /* default 1.5, > 1 */
  double rate;      /* default 1.5, > 1 */
  double eps_min;   /* default 0.02, > 0 */
  double eps_max;   /* default 0.5 */
} ppobr_kl_adaptive_config;

PPOBR_C_API void ppobr_kl_adaptive_config_init(ppobr_kl_adaptive_config* config);

/* Creation. On success *out owns a new controller (free it with ppobr_controller_destroy).
 * A rejected config gives PPOBR_ERROR_INVALID_ARGUMENT naming the field ("eps0", "window",
 * "eps_min", "psi_mode", ...). */
PPOBR_C_API ppobr_status ppobr_controller_create_ppobr(const ppobr_ppobr_config* config,
                                                       ppobr_controller** out);
PPOBR_C_API ppobr_status ppobr_controller_create_kl_adaptive(const ppobr_kl_adaptive_config* config,
                                                             ppobr_controller** out);
/* Constant eps (plain PPO); eps > 0. */
PPOBR_C_API ppobr_status ppobr_controller_create_constant(double eps, ppobr_controller** out);
/* Linear decay: the t-th update (t = 0, 1, ...) returns
 * eps_start + (eps_end - eps_start) * min(t, total_updates) / total_updates. */
PPOBR_C_API ppobr_status ppobr_controller_create_linear_decay(double eps_start, double eps_end,
                                                              int64_t total_updates,
                                                              ppobr_controller** out);
/* A deep copy. */
PPOBR_C_API ppobr_status ppobr_controller_clone(const ppobr_controller* controller,
                                                ppobr_controller** out);
/* Frees the controller; NULL is allowed and does nothing. */
PPOBR_C_API void ppobr_controller_destroy(ppobr_controller* controller);

/* "ppobr", "constant", "linear_decay" or "kl_adaptive"; NULL for a NULL handle. */
PPOBR_C_API const char* ppobr_controller_name(const ppobr_controller* controller);

/* What the training loop observed in the iteration that just ended. */
typedef struct ppobr_observation {
  int32_t has_entropy; /* PPO-BR: the mean policy entropy over the rollout */
  double entropy;
  const double* episode_returns; /* returns of the episodes completed, oldest first; */
  size_t num_episode_returns;    /* may be NULL when num_episode_returns == 0 */
  int32_t has_kl;                /* KL-adaptive: the measured KL of the last update */
  double kl;
} ppobr_observation;

/* Zero entropy/kl, no returns, has_entropy = has_kl = 0. */
PPOBR_C_API void ppobr_observation_init(ppobr_observation* observation);

/* Once per training iteration (per rollout, before the update epochs). Writes the new eps
 * to *epsilon_out (which may be NULL). Not errors (docs/SPEC.md): a NaN/Inf or absent entropy
 * leaves PPO-BR's eps and state unchanged (counted in the "rejected_entropy" diagnostic);
 * NaN/Inf returns are dropped (counted in "dropped_returns"). Errors:
 * "observation" (NULL), "episode_returns" (NULL with a count > 0), "kl" (absent for
 * kl_adaptive), "entropy_ref" (PPO-BR: H_ref not above entropy_floor); the state is then
 * unchanged. */
PPOBR_C_API ppobr_status ppobr_controller_update(ppobr_controller* controller,
                                                 const ppobr_observation* observation,
                                                 double* epsilon_out);

/* The current eps (eps0 before the first update). */
PPOBR_C_API ppobr_status ppobr_controller_epsilon(const ppobr_controller* controller,
                                                  double* epsilon_out);

/* Named numbers describing the controller. Diagnostics: the last update's values,
 * "epsilon" first (PPO-BR: phi, psi, entropy, z, entropy_ref, num_returns, updates,
 * rejected_entropy, dropped_returns). Config items: the config as numbers (psi_mode 0/1,
 * an absent optional value NaN).
 *
 * names and values (either may be NULL) receive up to capacity entries; *count_out gets the
 * number of entries. With capacity too small (and names or values not NULL) the call
 * returns PPOBR_ERROR_BUFFER_TOO_SMALL and still sets *count_out; pass capacity 0 and NULL
 * arrays to query the count. The name strings belong to the handle and stay valid until
 * the next call with that handle. */
PPOBR_C_API ppobr_status ppobr_controller_diagnostics(ppobr_controller* controller,
                                                      const char** names, double* values,
                                                      size_t capacity, size_t* count_out);
PPOBR_C_API ppobr_status ppobr_controller_config_items(ppobr_controller* controller,
                                                       const char** names, double* values,
                                                       size_t capacity, size_t* count_out);
/* One diagnostic by name ("epsilon", "psi", ...); an unknown name is an error ("name"). */
PPOBR_C_API ppobr_status ppobr_controller_diagnostic(const ppobr_controller* controller,
                                                     const char* name, double* value_out);

/* Serialization: versioned, checksummed, little-endian bytes holding the controller type,
 * config and state; a restored controller continues bit-identically.
 * buffer == NULL: only writes the size to *size_out (returns PPOBR_OK).
 * capacity < size: PPOBR_ERROR_BUFFER_TOO_SMALL, *size_out = the size needed.
 * Otherwise writes the bytes and their count to *size_out. */
PPOBR_C_API ppobr_status ppobr_controller_serialize(const ppobr_controller* controller,
                                                    uint8_t* buffer, size_t capacity,
                                                    size_t* size_out);
/* Rebuilds a controller of any type from ppobr_controller_serialize's bytes. Malformed,
 * truncated, corrupted or foreign bytes give PPOBR_ERROR_INVALID_ARGUMENT with argument
 * "state" and never read outside [data, data + size). */
PPOBR_C_API ppobr_status ppobr_controller_restore(const uint8_t* data, size_t size,
                                                  ppobr_controller** out);

/* ======================================================================================= */
/* The fused clipped-surrogate kernel (see ppobr/surrogate.hpp for the exact formulas)      */

#define PPOBR_FLOAT32 0
#define PPOBR_FLOAT64 1

/* A read-only 2-D view: element (r, c) is at data + (r * row_stride + c * col_stride)
 * elements of the dtype. Strides are in elements and may be 0 or negative. A 1-D array of n
 * elements is rows = 1, cols = n, row_stride = 0, col_stride = 1. data == NULL means absent
 * (allowed for the optional inputs only). */
typedef struct ppobr_view2d {
  const void* data;
  int64_t rows;
  int64_t cols;
  int64_t row_stride;
  int64_t col_stride;
} ppobr_view2d;

/* Helpers: a contiguous 1-D view of n elements, a contiguous row-major [rows, cols] view,
 * and the absent view. */
PPOBR_C_API ppobr_view2d ppobr_view_1d(const void* data, int64_t n);
PPOBR_C_API ppobr_view2d ppobr_view_2d(const void* data, int64_t rows, int64_t cols);
PPOBR_C_API ppobr_view2d ppobr_view_none(void);

#define PPOBR_AGG_TOKEN_MEAN 0          /* mean over all (weighted) samples */
#define PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN 1 /* per-sequence weighted mean, then mean over sequences */
#define PPOBR_AGG_SEQ_MEAN_TOKEN_SUM 2  /* per-sequence weighted sum, then mean over sequences */

/* "token-mean", "seq-mean-token-mean", "seq-mean-token-sum" -> PPOBR_AGG_*; else an error
 * naming "aggregation". */
PPOBR_C_API ppobr_status ppobr_parse_aggregation(const char* name, int32_t* aggregation_out);

typedef struct ppobr_surrogate_options {
  double eps_low;      /* r >= 1 - eps_low;  finite, in [0, 1); default 0.2 */
  double eps_high;     /* r <= 1 + eps_high; finite, >= 0;      default 0.2 */
  double dual_clip;    /* 0: off (default); else the dual-clip constant c > 1 */
  int32_t aggregation; /* PPOBR_AGG_*, default PPOBR_AGG_TOKEN_MEAN */
  int32_t num_threads; /* 0: automatic (default); 1: single thread. Results never depend on it */
} ppobr_surrogate_options;

PPOBR_C_API void ppobr_surrogate_options_init(ppobr_surrogate_options* options);

typedef struct ppobr_surrogate_inputs {
  int32_t dtype; /* PPOBR_FLOAT32 or PPOBR_FLOAT64, for every view and for grad */
  /* The batch's rank: 1 ([batch]; logp_new has one row) or 2 ([batch, tokens]); 0 (the
   * default) reads it off logp_new: 1-D when rows == 1 and row_stride == 0, as
   * ppobr_view_1d makes it, else 2-D. The SEQ_* aggregations of a 1-D batch require
   * segment_ids (error "segment_ids"); pass 2 for a one-row [1, tokens] batch with a zero
   * row stride. */
  int32_t batch_ndim;
  ppobr_view2d logp_new;   /* required */
  ppobr_view2d logp_old;   /* required, same shape */
  ppobr_view2d advantages; /* required, same shape */
  ppobr_view2d entropy;    /* optional per-sample entropy (statistics only) */
  ppobr_view2d mask;       /* optional per-sample weights >= 0 */
  /* Sequence ids for the SEQ_* aggregations of a 1-D batch (required there):
   * segment_ids[i * segment_stride] in [0, num_segments). NULL for 2-D input (rows are the
   * sequences there) and ignored by PPOBR_AGG_TOKEN_MEAN. */
  const int64_t* segment_ids;
  int64_t segment_stride;
  int64_t num_segments;
} ppobr_surrogate_inputs;

/* dtype float64, batch_ndim 0, every view absent, no segment ids (segment_stride 1). */
PPOBR_C_API void ppobr_surrogate_inputs_init(ppobr_surrogate_inputs* inputs);

/* Statistic slots, in this order everywhere (C++, Python dict keys, this ABI). */
#define PPOBR_STAT_ENTROPY 0
#define PPOBR_STAT_RATIO_MEAN 1
#define PPOBR_STAT_RATIO_MIN 2          /* sum holds the min itself: reduce with min */
#define PPOBR_STAT_RATIO_MAX 3          /* sum holds the max itself: reduce with max */
#define PPOBR_STAT_CLIP_FRACTION 4      /* r < 1 - eps_low or r > 1 + eps_high */
#define PPOBR_STAT_CLIP_FRACTION_LOW 5  /* A < 0 and r < 1 - eps_low */
#define PPOBR_STAT_CLIP_FRACTION_HIGH 6 /* A > 0 and r > 1 + eps_high */
#define PPOBR_STAT_DUAL_CLIP_FRACTION 7 /* the dual-clip bound binds */
#define PPOBR_STAT_KL_K1 8              /* -log r */
#define PPOBR_STAT_KL_K2 9              /* (log r)^2 / 2 */
#define PPOBR_STAT_KL_K3 10             /* (r - 1) - log r */
#define PPOBR_NUM_STATS 11

/* "entropy", "ratio_mean", ..., "kl_k3"; NULL outside [0, PPOBR_NUM_STATS). */
PPOBR_C_API const char* ppobr_stat_name(int32_t stat);

/* (sum, count) pairs, weighted by the mask: summed over workers they give exact global
 * means sum / count (ratio_min / ratio_max: see above). */
typedef struct ppobr_surrogate_stats {
  double sum[PPOBR_NUM_STATS];
  double count[PPOBR_NUM_STATS];
} ppobr_surrogate_stats;

/* loss = -sum_i s_i * min(r_i A_i, clip(r_i) A_i) (with dual-clip), its gradient with respect
 * to logp_new and the statistics, in one pass. grad: rows * cols elements of the dtype,
 * contiguous row-major, or NULL to skip it. loss_out and stats_out may be NULL. Errors name
 * the argument: shape mismatch, empty batch, NaN/Inf in an input, negative or all-zero mask,
 * bad eps/dual_clip/aggregation, bad batch_ndim, bad or missing segment ids (SEQ_* of a 1-D
 * batch), "dtype", "inputs"/"options" (NULL). */
PPOBR_C_API ppobr_status ppobr_clipped_surrogate(const ppobr_surrogate_inputs* inputs,
                                                 const ppobr_surrogate_options* options, void* grad,
                                                 double* loss_out,
                                                 ppobr_surrogate_stats* stats_out);

/* Categorical policy from logits [N, A] and integer actions (actions[i * action_stride]):
 * log-prob of the action and entropy per row, written to contiguous arrays of N elements of
 * the dtype (either may be NULL; actions may be NULL when logp_out is). Errors: "logits"
 * (empty or non-finite), "actions" (outside [0, A), or NULL with logp_out), "dtype",
 * "num_threads". num_threads as in the surrogate. */
PPOBR_C_API ppobr_status ppobr_categorical_logprob_entropy(int32_t dtype,
                                                           const ppobr_view2d* logits,
                                                           const int64_t* actions,
                                                           int64_t action_stride, void* logp_out,
                                                           void* entropy_out, int32_t num_threads);

/* Diagonal Gaussian entropy per row from log_std [N, D]: sum_d log_std + D (1 + log 2 pi) / 2,
 * written to a contiguous array of N elements of the dtype (NULL: only check log_std).
 * Errors: "log_std" (empty, NaN/Inf, or a row sum that overflows), "dtype". */
PPOBR_C_API ppobr_status ppobr_gaussian_entropy(int32_t dtype, const ppobr_view2d* log_std,
                                                void* entropy_out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PPOBR_C_API_H */
