// The C ABI (ppobr/c_api.h) over the C++ core.
//
// Every exported function is noexcept and funnels its body through guard(), which catches
// every exception and turns it into a status code plus the calling thread's last error:
//   ppobr::InvalidArgument  -> PPOBR_ERROR_INVALID_ARGUMENT, argument() kept
//   std::bad_alloc          -> PPOBR_ERROR_OUT_OF_MEMORY
//   anything else           -> PPOBR_ERROR_INTERNAL
// Checks that only the C layer can make (NULL pointers, unknown dtype / enum values) throw
// InvalidArgument too, so there is exactly one path for errors.
#include "ppobr/c_api.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "ppobr/controllers.hpp"
#include "ppobr/distributions.hpp"
#include "ppobr/errors.hpp"
#include "ppobr/surrogate.hpp"

#ifndef PPOBR_VERSION_STRING
#define PPOBR_VERSION_STRING "unknown"
#endif

// batch_ndim sits in what was padding after dtype: the struct's size and every other field's
// offset are those of the first ABI version, so callers built against it keep working.
static_assert(offsetof(ppobr_surrogate_inputs, batch_ndim) == sizeof(int32_t),
              "batch_ndim follows dtype");
static_assert(offsetof(ppobr_surrogate_inputs, logp_new) == 8, "logp_new stays at offset 8");

struct ppobr_controller {
  std::unique_ptr<ppobr::Controller> impl;
  // Storage behind the name pointers handed out by diagnostics() / config_items().
  ppobr::Diagnostics names_cache;
};

namespace {

struct LastError {
  ppobr_status code = PPOBR_OK;
  std::string argument;
  std::string message;
};

LastError& last_error() noexcept {
  // A function-local thread_local: constructed on first use in each thread. std::string's
  // default constructor does not allocate, so this cannot throw.
  static thread_local LastError e;
  return e;
}

void clear_error() noexcept {
  LastError& e = last_error();
  e.code = PPOBR_OK;
  e.argument.clear();  // keeps the capacity: no allocation on the hot path
  e.message.clear();
}

ppobr_status set_error(ppobr_status code, const char* argument, const char* message) noexcept {
  LastError& e = last_error();
  e.code = code;
  try {
    e.argument = argument;
    e.message = message;
  } catch (...) {  // out of memory while recording the error: keep the code, drop the text
    e.argument.clear();
    e.message.clear();
  }
  return code;
}

[[noreturn]] void fail(const char* argument, const std::string& message) {
  throw ppobr::InvalidArgument(argument, message);
}

template <class T>
void require(const T* p, const char* argument) {
  if (p == nullptr) fail(argument, "must not be NULL");
}

// Runs body() and maps whatever it throws to a status code. body returns ppobr_status.
template <class F>
ppobr_status guard(F&& body) noexcept {
  clear_error();
  try {
    return body();
  } catch (const ppobr::InvalidArgument& ex) {
    return set_error(PPOBR_ERROR_INVALID_ARGUMENT, ex.argument().c_str(), ex.what());
  } catch (const std::bad_alloc&) {
    return set_error(PPOBR_ERROR_OUT_OF_MEMORY, "", "out of memory");
  } catch (const std::exception& ex) {
    std::string msg = std::string("internal error: ") + ex.what();
    return set_error(PPOBR_ERROR_INTERNAL, "", msg.c_str());
  } catch (...) {
    return set_error(PPOBR_ERROR_INTERNAL, "", "internal error: unknown exception");
  }
}

// Writes a new handle wrapping c to *out.
ppobr_status emit(std::unique_ptr<ppobr::Controller> c, ppobr_controller** out) {
  auto h = std::make_unique<ppobr_controller>();
  h->impl = std::move(c);
  *out = h.release();
  return PPOBR_OK;
}

ppobr::Controller& controller_of(const ppobr_controller* c) {
  if (c == nullptr || !c->impl) fail("controller", "must not be NULL");
  return *c->impl;
}

ppobr_status list_items(ppobr_controller* controller, bool diagnostics, const char** names,
                        double* values, size_t capacity, size_t* count_out) {
  ppobr::Controller& c = controller_of(controller);
  require(count_out, "count_out");
  ppobr::Diagnostics items = diagnostics ? c.diagnostics() : c.config_items();
  *count_out = items.size();
  if (names == nullptr && values == nullptr) return PPOBR_OK;
  if (capacity < items.size())
    return set_error(PPOBR_ERROR_BUFFER_TOO_SMALL, "capacity",
                     ("capacity: " + std::to_string(capacity) + " entries given, " +
                      std::to_string(items.size()) + " needed")
                         .c_str());
  controller->names_cache = std::move(items);
  for (size_t i = 0; i < controller->names_cache.size(); ++i) {
    if (names) names[i] = controller->names_cache[i].first.c_str();
    if (values) values[i] = controller->names_cache[i].second;
  }
  return PPOBR_OK;
}

// ---- kernel helpers -------------------------------------------------------------------

void check_dtype(int32_t dtype) {
  if (dtype != PPOBR_FLOAT32 && dtype != PPOBR_FLOAT64)
    fail("dtype", "must be PPOBR_FLOAT32 (0) or PPOBR_FLOAT64 (1), got " + std::to_string(dtype));
}

template <class T>
ppobr::View2D<T> view_of(const ppobr_view2d& v) {
  ppobr::View2D<T> out;
  out.data = static_cast<const T*>(v.data);
  out.rows = v.rows;
  out.cols = v.cols;
  out.row_stride = v.row_stride;
  out.col_stride = v.col_stride;
  return out;
}

ppobr::Aggregation aggregation_of(int32_t a) {
  switch (a) {
    case PPOBR_AGG_TOKEN_MEAN:
      return ppobr::Aggregation::TokenMean;
    case PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN:
      return ppobr::Aggregation::SeqMeanTokenMean;
    case PPOBR_AGG_SEQ_MEAN_TOKEN_SUM:
      return ppobr::Aggregation::SeqMeanTokenSum;
    default:
      break;
  }
  fail("aggregation",
       "must be PPOBR_AGG_TOKEN_MEAN (0), PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN (1) or "
       "PPOBR_AGG_SEQ_MEAN_TOKEN_SUM (2), got " +
           std::to_string(a));
}

template <class T>
void run_surrogate(const ppobr_surrogate_inputs& in, const ppobr::SurrogateOptions& opt, void* grad,
                   double* loss_out, ppobr_surrogate_stats* stats_out) {
  ppobr::SurrogateInputs<T> x;
  x.logp_new = view_of<T>(in.logp_new);
  x.logp_old = view_of<T>(in.logp_old);
  x.advantages = view_of<T>(in.advantages);
  x.entropy = view_of<T>(in.entropy);
  x.mask = view_of<T>(in.mask);
  x.segment_ids = in.segment_ids;
  x.segment_stride = in.segment_stride;
  x.num_segments = in.num_segments;
  x.batch_ndim = in.batch_ndim;
  const ppobr::SurrogateResult r = ppobr::clipped_surrogate<T>(x, opt, static_cast<T*>(grad));
  if (loss_out) *loss_out = r.loss;
  if (stats_out) {
    for (int k = 0; k < ppobr::kNumStats; ++k) {
      stats_out->sum[k] = r.stats.sum[static_cast<size_t>(k)];
      stats_out->count[k] = r.stats.count[static_cast<size_t>(k)];
    }
  }
}

static_assert(PPOBR_NUM_STATS == ppobr::kNumStats,
              "c_api.h stat slots out of sync with surrogate.hpp");
static_assert(PPOBR_STAT_ENTROPY == ppobr::kEntropy && PPOBR_STAT_RATIO_MEAN == ppobr::kRatioMean &&
                  PPOBR_STAT_RATIO_MIN == ppobr::kRatioMin &&
                  PPOBR_STAT_RATIO_MAX == ppobr::kRatioMax &&
                  PPOBR_STAT_CLIP_FRACTION == ppobr::kClipFraction &&
                  PPOBR_STAT_CLIP_FRACTION_LOW == ppobr::kClipFractionLow &&
                  PPOBR_STAT_CLIP_FRACTION_HIGH == ppobr::kClipFractionHigh &&
                  PPOBR_STAT_DUAL_CLIP_FRACTION == ppobr::kDualClipFraction &&
                  PPOBR_STAT_KL_K1 == ppobr::kKlK1 && PPOBR_STAT_KL_K2 == ppobr::kKlK2 &&
                  PPOBR_STAT_KL_K3 == ppobr::kKlK3,
              "c_api.h stat slots out of sync with surrogate.hpp");

}  // namespace

extern "C" {

// ---- status and errors ----------------------------------------------------------------

const char* ppobr_status_string(ppobr_status status) {
  switch (status) {
    case PPOBR_OK:
      return "ok";
    case PPOBR_ERROR_INVALID_ARGUMENT:
      return "invalid_argument";
    case PPOBR_ERROR_BUFFER_TOO_SMALL:
      return "buffer_too_small";
    case PPOBR_ERROR_OUT_OF_MEMORY:
      return "out_of_memory";
    case PPOBR_ERROR_INTERNAL:
      return "internal";
    default:
      return "unknown";
  }
}

ppobr_status ppobr_last_error_code(void) { return last_error().code; }
const char* ppobr_last_error_argument(void) { return last_error().argument.c_str(); }
const char* ppobr_last_error_message(void) { return last_error().message.c_str(); }

const char* ppobr_version(void) { return PPOBR_VERSION_STRING; }
int32_t ppobr_c_api_version(void) { return PPOBR_C_API_VERSION; }

// ---- controllers ----------------------------------------------------------------------

void ppobr_ppobr_config_init(ppobr_ppobr_config* config) {
  if (config == nullptr) return;
  const ppobr::PPOBRConfig d;
  std::memset(config, 0, sizeof *config);
  config->eps0 = d.eps0;
  config->lambda1 = d.lambda1;
  config->lambda2 = d.lambda2;
  config->window = d.window;
  config->psi_mode = PPOBR_PSI_PLATEAU;
  config->has_entropy_ref = 0;
  config->entropy_ref = 0.0;
  config->entropy_floor = d.entropy_floor;
  config->has_eps_min = 0;
  config->eps_min = 0.0;
  config->has_eps_max = 0;
  config->eps_max = 0.0;
}

void ppobr_kl_adaptive_config_init(ppobr_kl_adaptive_config* config) {
  if (config == nullptr) return;
  const ppobr::KLAdaptiveConfig d;
  config->eps0 = d.eps0;
  config->kl_target = d.kl_target;
  config->tolerance = d.tolerance;
  config->rate = d.rate;
  config->eps_min = d.eps_min;
  config->eps_max = d.eps_max;
}

ppobr_status ppobr_controller_create_ppobr(const ppobr_ppobr_config* config,
                                           ppobr_controller** out) {
  return guard([&]() -> ppobr_status {
    require(out, "out");
    *out = nullptr;
    require(config, "config");
    ppobr::PPOBRConfig c;
    c.eps0 = config->eps0;
    c.lambda1 = config->lambda1;
    c.lambda2 = config->lambda2;
    c.window = config->window;
    if (config->psi_mode == PPOBR_PSI_PLATEAU)
      c.psi_mode = ppobr::PsiMode::Plateau;
    else if (config->psi_mode == PPOBR_PSI_PROGRESS)
      c.psi_mode = ppobr::PsiMode::Progress;
    else
      fail("psi_mode", "must be PPOBR_PSI_PLATEAU (0) or PPOBR_PSI_PROGRESS (1), got " +
                           std::to_string(config->psi_mode));
    if (config->has_entropy_ref) c.entropy_ref = config->entropy_ref;
    c.entropy_floor = config->entropy_floor;
    if (config->has_eps_min) c.eps_min = config->eps_min;
    if (config->has_eps_max) c.eps_max = config->eps_max;
    return emit(std::make_unique<ppobr::PPOBRController>(c), out);
  });
}

ppobr_status ppobr_controller_create_kl_adaptive(const ppobr_kl_adaptive_config* config,
                                                 ppobr_controller** out) {
  return guard([&]() -> ppobr_status {
    require(out, "out");
    *out = nullptr;
    require(config, "config");
    ppobr::KLAdaptiveConfig c;
    c.eps0 = config->eps0;
    c.kl_target = config->kl_target;
    c.tolerance = config->tolerance;
    c.rate = config->rate;
    c.eps_min = config->eps_min;
    c.eps_max = config->eps_max;
    return emit(std::make_unique<ppobr::KLAdaptiveController>(c), out);
  });
}

ppobr_status ppobr_controller_create_constant(double eps, ppobr_controller** out) {
  return guard([&]() -> ppobr_status {
    require(out, "out");
    *out = nullptr;
    ppobr::ConstantConfig c;
    c.eps = eps;
    return emit(std::make_unique<ppobr::ConstantController>(c), out);
  });
}

ppobr_status ppobr_controller_create_linear_decay(double eps_start, double eps_end,
                                                  int64_t total_updates, ppobr_controller** out) {
  return guard([&]() -> ppobr_status {
    require(out, "out");
    *out = nullptr;
    ppobr::LinearDecayConfig c;
    c.eps_start = eps_start;
    c.eps_end = eps_end;
    c.total_updates = total_updates;
    return emit(std::make_unique<ppobr::LinearDecayController>(c), out);
  });
}

ppobr_status ppobr_controller_clone(const ppobr_controller* controller, ppobr_controller** out) {
  return guard([&]() -> ppobr_status {
    require(out, "out");
    *out = nullptr;
    return emit(controller_of(controller).clone(), out);
  });
}

void ppobr_controller_destroy(ppobr_controller* controller) {
  clear_error();
  delete controller;  // destructors do not throw
}

const char* ppobr_controller_name(const ppobr_controller* controller) {
  clear_error();
  if (controller == nullptr || !controller->impl) {
    set_error(PPOBR_ERROR_INVALID_ARGUMENT, "controller", "controller: must not be NULL");
    return nullptr;
  }
  return controller->impl->name();
}

void ppobr_observation_init(ppobr_observation* observation) {
  if (observation == nullptr) return;
  std::memset(observation, 0, sizeof *observation);
  observation->has_entropy = 0;
  observation->entropy = 0.0;
  observation->episode_returns = nullptr;
  observation->num_episode_returns = 0;
  observation->has_kl = 0;
  observation->kl = 0.0;
}

ppobr_status ppobr_controller_update(ppobr_controller* controller,
                                     const ppobr_observation* observation, double* epsilon_out) {
  return guard([&]() -> ppobr_status {
    ppobr::Controller& c = controller_of(controller);
    require(observation, "observation");
    if (observation->num_episode_returns > 0 && observation->episode_returns == nullptr)
      fail("episode_returns",
           "is NULL but num_episode_returns = " + std::to_string(observation->num_episode_returns));
    ppobr::Observation obs;
    if (observation->has_entropy) obs.entropy = observation->entropy;
    obs.episode_returns = observation->episode_returns;
    obs.num_episode_returns = observation->num_episode_returns;
    if (observation->has_kl) obs.kl = observation->kl;
    const double eps = c.update(obs);
    if (epsilon_out) *epsilon_out = eps;
    return PPOBR_OK;
  });
}

ppobr_status ppobr_controller_epsilon(const ppobr_controller* controller, double* epsilon_out) {
  return guard([&]() -> ppobr_status {
    const ppobr::Controller& c = controller_of(controller);
    require(epsilon_out, "epsilon_out");
    *epsilon_out = c.epsilon();
    return PPOBR_OK;
  });
}

ppobr_status ppobr_controller_diagnostics(ppobr_controller* controller, const char** names,
                                          double* values, size_t capacity, size_t* count_out) {
  return guard([&]() -> ppobr_status {
    return list_items(controller, true, names, values, capacity, count_out);
  });
}

ppobr_status ppobr_controller_config_items(ppobr_controller* controller, const char** names,
                                           double* values, size_t capacity, size_t* count_out) {
  return guard([&]() -> ppobr_status {
    return list_items(controller, false, names, values, capacity, count_out);
  });
}

ppobr_status ppobr_controller_diagnostic(const ppobr_controller* controller, const char* name,
                                         double* value_out) {
  return guard([&]() -> ppobr_status {
    const ppobr::Controller& c = controller_of(controller);
    require(name, "name");
    require(value_out, "value_out");
    const ppobr::Diagnostics items = c.diagnostics();
    std::string known;
    for (const auto& kv : items) {
      if (kv.first == name) {
        *value_out = kv.second;
        return PPOBR_OK;
      }
      known += (known.empty() ? "" : ", ") + kv.first;
    }
    fail("name", std::string("the ") + c.name() + " controller has no diagnostic '" + name +
                     "'; it has: " + known);
  });
}

ppobr_status ppobr_controller_serialize(const ppobr_controller* controller, uint8_t* buffer,
                                        size_t capacity, size_t* size_out) {
  return guard([&]() -> ppobr_status {
    const ppobr::Controller& c = controller_of(controller);
    require(size_out, "size_out");
    const std::vector<std::uint8_t> bytes = c.serialize();
    *size_out = bytes.size();
    if (buffer == nullptr) return PPOBR_OK;
    if (capacity < bytes.size())
      return set_error(PPOBR_ERROR_BUFFER_TOO_SMALL, "capacity",
                       ("capacity: " + std::to_string(capacity) + " bytes given, " +
                        std::to_string(bytes.size()) + " needed")
                           .c_str());
    if (!bytes.empty()) std::memcpy(buffer, bytes.data(), bytes.size());
    return PPOBR_OK;
  });
}

ppobr_status ppobr_controller_restore(const uint8_t* data, size_t size, ppobr_controller** out) {
  return guard([&]() -> ppobr_status {
    require(out, "out");
    *out = nullptr;
    if (data == nullptr && size > 0)
      fail("state", "data is NULL but size = " + std::to_string(size));
    static const std::uint8_t kEmpty = 0;
    return emit(ppobr::deserialize_controller(data ? data : &kEmpty, data ? size : 0), out);
  });
}

// ---- kernel ---------------------------------------------------------------------------

ppobr_view2d ppobr_view_1d(const void* data, int64_t n) {
  ppobr_view2d v;
  v.data = data;
  v.rows = 1;
  v.cols = n;
  v.row_stride = 0;
  v.col_stride = 1;
  return v;
}

ppobr_view2d ppobr_view_2d(const void* data, int64_t rows, int64_t cols) {
  ppobr_view2d v;
  v.data = data;
  v.rows = rows;
  v.cols = cols;
  v.row_stride = cols;
  v.col_stride = 1;
  return v;
}

ppobr_view2d ppobr_view_none(void) {
  ppobr_view2d v;
  v.data = nullptr;
  v.rows = 0;
  v.cols = 0;
  v.row_stride = 0;
  v.col_stride = 1;
  return v;
}

ppobr_status ppobr_parse_aggregation(const char* name, int32_t* aggregation_out) {
  return guard([&]() -> ppobr_status {
    require(aggregation_out, "aggregation_out");
    if (name == nullptr) fail("aggregation", "must not be NULL");
    switch (ppobr::parse_aggregation(name)) {
      case ppobr::Aggregation::TokenMean:
        *aggregation_out = PPOBR_AGG_TOKEN_MEAN;
        break;
      case ppobr::Aggregation::SeqMeanTokenMean:
        *aggregation_out = PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN;
        break;
      case ppobr::Aggregation::SeqMeanTokenSum:
        *aggregation_out = PPOBR_AGG_SEQ_MEAN_TOKEN_SUM;
        break;
    }
    return PPOBR_OK;
  });
}

void ppobr_surrogate_options_init(ppobr_surrogate_options* options) {
  if (options == nullptr) return;
  const ppobr::SurrogateOptions d;
  std::memset(options, 0, sizeof *options);
  options->eps_low = d.eps_low;
  options->eps_high = d.eps_high;
  options->dual_clip = d.dual_clip;
  options->aggregation = PPOBR_AGG_TOKEN_MEAN;
  options->num_threads = d.num_threads;
}

void ppobr_surrogate_inputs_init(ppobr_surrogate_inputs* inputs) {
  if (inputs == nullptr) return;
  std::memset(inputs, 0, sizeof *inputs);
  inputs->dtype = PPOBR_FLOAT64;
  inputs->logp_new = ppobr_view_none();
  inputs->logp_old = ppobr_view_none();
  inputs->advantages = ppobr_view_none();
  inputs->entropy = ppobr_view_none();
  inputs->mask = ppobr_view_none();
  inputs->segment_ids = nullptr;
  inputs->segment_stride = 1;
  inputs->num_segments = 0;
  inputs->batch_ndim = 0;
}

const char* ppobr_stat_name(int32_t stat) {
  if (stat < 0 || stat >= ppobr::kNumStats) return nullptr;
  return ppobr::kStatNames[static_cast<size_t>(stat)];
}

ppobr_status ppobr_clipped_surrogate(const ppobr_surrogate_inputs* inputs,
                                     const ppobr_surrogate_options* options, void* grad,
                                     double* loss_out, ppobr_surrogate_stats* stats_out) {
  return guard([&]() -> ppobr_status {
    require(inputs, "inputs");
    require(options, "options");
    check_dtype(inputs->dtype);
    if (inputs->logp_new.data == nullptr) fail("logp_new", "is required (data is NULL)");
    if (inputs->logp_old.data == nullptr) fail("logp_old", "is required (data is NULL)");
    if (inputs->advantages.data == nullptr) fail("advantages", "is required (data is NULL)");
    ppobr::SurrogateOptions opt;
    opt.eps_low = options->eps_low;
    opt.eps_high = options->eps_high;
    opt.dual_clip = options->dual_clip;
    opt.aggregation = aggregation_of(options->aggregation);
    if (options->num_threads < 0)
      fail("num_threads",
           "must be >= 0 (0: automatic), got " + std::to_string(options->num_threads));
    opt.num_threads = options->num_threads;
    if (inputs->dtype == PPOBR_FLOAT32)
      run_surrogate<float>(*inputs, opt, grad, loss_out, stats_out);
    else
      run_surrogate<double>(*inputs, opt, grad, loss_out, stats_out);
    return PPOBR_OK;
  });
}

ppobr_status ppobr_categorical_logprob_entropy(int32_t dtype, const ppobr_view2d* logits,
                                               const int64_t* actions, int64_t action_stride,
                                               void* logp_out, void* entropy_out,
                                               int32_t num_threads) {
  return guard([&]() -> ppobr_status {
    check_dtype(dtype);
    require(logits, "logits");
    if (logits->data == nullptr) fail("logits", "is required (data is NULL)");
    if (actions == nullptr && logp_out != nullptr)
      fail("actions", "is required to compute log-probabilities");
    if (num_threads < 0)
      fail("num_threads", "must be >= 0 (0: automatic), got " + std::to_string(num_threads));
    if (dtype == PPOBR_FLOAT32)
      ppobr::categorical_logprob_entropy<float>(view_of<float>(*logits), actions, action_stride,
                                                static_cast<float*>(logp_out),
                                                static_cast<float*>(entropy_out), num_threads);
    else
      ppobr::categorical_logprob_entropy<double>(view_of<double>(*logits), actions, action_stride,
                                                 static_cast<double*>(logp_out),
                                                 static_cast<double*>(entropy_out), num_threads);
    return PPOBR_OK;
  });
}

ppobr_status ppobr_gaussian_entropy(int32_t dtype, const ppobr_view2d* log_std, void* entropy_out) {
  return guard([&]() -> ppobr_status {
    check_dtype(dtype);
    require(log_std, "log_std");
    if (log_std->data == nullptr) fail("log_std", "is required (data is NULL)");
    if (dtype == PPOBR_FLOAT32)
      ppobr::gaussian_entropy<float>(view_of<float>(*log_std), static_cast<float*>(entropy_out));
    else
      ppobr::gaussian_entropy<double>(view_of<double>(*log_std), static_cast<double*>(entropy_out));
    return PPOBR_OK;
  });
}

}  // extern "C"
