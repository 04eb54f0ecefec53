/* A C program using only the C ABI (ppobr/c_api.h): a PPO-BR controller driven through a
 * few fake training iterations, checkpointed to bytes and restored (the copy continues
 * bit-identically), error handling, and one call of the fused surrogate kernel.
 * Exits 0 when every check passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ppobr/c_api.h"

static int failures = 0;

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* Calls f; on error prints the thread's last error and counts a failure. */
#define TRY(call)                                                         \
  do {                                                                    \
    ppobr_status st_ = (call);                                            \
    if (st_ != PPOBR_OK) {                                                \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, \
              ppobr_status_string(st_), ppobr_last_error_message());      \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void controller_demo(void) {
  ppobr_ppobr_config cfg;
  ppobr_controller *ctl = NULL, *restored = NULL, *bad = NULL;
  ppobr_observation obs;
  uint8_t* bytes = NULL;
  size_t size = 0, written = 0, n_diag = 0, i;
  const char* names[32];
  double values[32];
  double eps = 0.0, eps_a = 0.0, eps_b = 0.0;
  int t;

  /* A rejected config: the code, the field, and a message that names it. */
  ppobr_ppobr_config_init(&cfg);
  cfg.eps0 = -0.2;
  EXPECT(ppobr_controller_create_ppobr(&cfg, &bad) == PPOBR_ERROR_INVALID_ARGUMENT);
  EXPECT(bad == NULL);
  EXPECT(strcmp(ppobr_last_error_argument(), "eps0") == 0);
  printf("rejected config as expected: %s\n", ppobr_last_error_message());

  /* PPO-BR, paper defaults, categorical policy over 4 actions: H_ref = log 4. */
  ppobr_ppobr_config_init(&cfg);
  cfg.has_entropy_ref = 1;
  cfg.entropy_ref = log(4.0);
  TRY(ppobr_controller_create_ppobr(&cfg, &ctl));
  if (ctl == NULL) return;
  printf("controller '%s', eps0 = ", ppobr_controller_name(ctl));
  TRY(ppobr_controller_epsilon(ctl, &eps));
  printf("%.4f\n", eps);

  /* One update per rollout: mean entropy + the episodes completed in the rollout. */
  for (t = 0; t < 15; ++t) {
    double returns[3];
    returns[0] = 10.0 + 3.0 * t;
    returns[1] = 11.0 + 3.0 * t;
    returns[2] = (t == 4) ? NAN : 12.0 + 3.0 * t; /* a NaN return is dropped, not an error */
    ppobr_observation_init(&obs);
    obs.has_entropy = 1;
    obs.entropy = 1.35 - 0.05 * t;
    obs.episode_returns = returns;
    obs.num_episode_returns = 3;
    TRY(ppobr_controller_update(ctl, &obs, &eps));
    EXPECT(eps >= 0.2 * 0.7 - 1e-12 && eps <= 0.2 * 1.5 + 1e-12);
    printf("iteration %2d: entropy %.3f -> eps %.5f\n", t, obs.entropy, eps);
  }

  TRY(ppobr_controller_diagnostics(ctl, names, values, 32, &n_diag));
  printf("diagnostics:");
  for (i = 0; i < n_diag; ++i) printf(" %s=%.4g", names[i], values[i]);
  printf("\n");

  /* Checkpoint: query the size, serialize, restore. */
  TRY(ppobr_controller_serialize(ctl, NULL, 0, &size));
  bytes = (uint8_t*)malloc(size);
  EXPECT(bytes != NULL);
  if (bytes == NULL) return;
  EXPECT(ppobr_controller_serialize(ctl, bytes, size - 1, &written) ==
         PPOBR_ERROR_BUFFER_TOO_SMALL);
  EXPECT(written == size);
  TRY(ppobr_controller_serialize(ctl, bytes, size, &written));
  TRY(ppobr_controller_restore(bytes, written, &restored));
  printf("checkpoint: %lu bytes, restored '%s'\n", (unsigned long)written,
         restored ? ppobr_controller_name(restored) : "(null)");

  /* Both continue bit-identically. */
  for (t = 0; t < 10 && restored != NULL; ++t) {
    double r = 50.0 + (t % 3);
    ppobr_observation_init(&obs);
    obs.has_entropy = 1;
    obs.entropy = 0.6 + 0.01 * t;
    obs.episode_returns = &r;
    obs.num_episode_returns = 1;
    TRY(ppobr_controller_update(ctl, &obs, &eps_a));
    TRY(ppobr_controller_update(restored, &obs, &eps_b));
    EXPECT(same_bits(eps_a, eps_b));
  }
  printf("restored controller continues bit-identically: eps %.6f\n", eps_a);

  /* Corrupted bytes are rejected cleanly. */
  bytes[written / 2] ^= 0x5a;
  EXPECT(ppobr_controller_restore(bytes, written, &bad) == PPOBR_ERROR_INVALID_ARGUMENT);
  EXPECT(bad == NULL);
  EXPECT(strcmp(ppobr_last_error_argument(), "state") == 0);
  printf("corrupted checkpoint rejected: %s\n", ppobr_last_error_message());

  free(bytes);
  ppobr_controller_destroy(restored);
  ppobr_controller_destroy(ctl);
}

static void kernel_demo(void) {
  enum { N = 8, A = 3 };
  /* A minibatch of N samples from a categorical policy over A actions. */
  double logits_old[N * A], logits_new[N * A], logp_old[N], logp_new[N], entropy[N];
  double advantages[N], grad[N], loss = 0.0;
  int64_t actions[N];
  ppobr_view2d v;
  ppobr_surrogate_inputs in;
  ppobr_surrogate_options opt;
  ppobr_surrogate_stats stats;
  int i, k;

  for (i = 0; i < N; ++i) {
    for (k = 0; k < A; ++k) {
      logits_old[i * A + k] = 0.1 * (i - k);
      logits_new[i * A + k] = logits_old[i * A + k] + ((i + k) % 2 ? 0.3 : -0.2);
    }
    actions[i] = i % A;
    advantages[i] = (i % 3 == 0) ? -1.0 : 0.5 * i;
  }
  v = ppobr_view_2d(logits_old, N, A);
  TRY(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &v, actions, 1, logp_old, NULL, 0));
  v = ppobr_view_2d(logits_new, N, A);
  TRY(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &v, actions, 1, logp_new, entropy, 0));

  ppobr_surrogate_inputs_init(&in);
  in.dtype = PPOBR_FLOAT64;
  in.logp_new = ppobr_view_1d(logp_new, N);
  in.logp_old = ppobr_view_1d(logp_old, N);
  in.advantages = ppobr_view_1d(advantages, N);
  in.entropy = ppobr_view_1d(entropy, N);
  ppobr_surrogate_options_init(&opt);
  opt.eps_low = 0.1;
  opt.eps_high = 0.1;
  opt.dual_clip = 3.0;
  TRY(ppobr_clipped_surrogate(&in, &opt, grad, &loss, &stats));
  EXPECT(loss == loss); /* not NaN */
  printf("surrogate: loss %.6f, grad[0..3] = %.4f %.4f %.4f %.4f\n", loss, grad[0], grad[1],
         grad[2], grad[3]);
  for (k = 0; k < PPOBR_NUM_STATS; ++k) {
    const double mean = stats.count[k] > 0.0 ? stats.sum[k] / stats.count[k] : 0.0;
    const double shown =
        (k == PPOBR_STAT_RATIO_MIN || k == PPOBR_STAT_RATIO_MAX) ? stats.sum[k] : mean;
    printf("  %-20s %.6f\n", ppobr_stat_name(k), shown);
  }
  EXPECT(stats.sum[PPOBR_STAT_RATIO_MIN] <= stats.sum[PPOBR_STAT_RATIO_MAX]);

  /* A shape mismatch is an error that names the argument. */
  in.advantages = ppobr_view_1d(advantages, N - 1);
  EXPECT(ppobr_clipped_surrogate(&in, &opt, grad, &loss, &stats) == PPOBR_ERROR_INVALID_ARGUMENT);
  printf("mismatched shapes rejected: %s (argument '%s')\n", ppobr_last_error_message(),
         ppobr_last_error_argument());
  EXPECT(ppobr_last_error_argument()[0] != '\0');
}

int main(void) {
  printf("ppobr %s, C API version %d\n", ppobr_version(), (int)ppobr_c_api_version());
  EXPECT(ppobr_c_api_version() == PPOBR_C_API_VERSION);
  controller_demo();
  kernel_demo();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all C API checks passed\n");
  return 0;
}
