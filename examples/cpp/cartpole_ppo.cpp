// A simulator embedding ppobr: cart-pole dynamics stepped in C++, a linear-softmax policy
// trained by PPO, the clipped surrogate's loss and gradient from ppobr's fused kernel, and
// the clip range eps from the PPO-BR controller, recomputed once per rollout.
//
//   cartpole_ppo [iterations] [seed]
//
// Exits 0 when the policy improved: the mean return of the last 5 iterations is at least
// 3x the first iteration's and at least 150 (a random policy scores about 22; the cap is 500).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "ppobr/ppobr.hpp"

namespace {

// ------------------------------------------------------------------------------------------
// Cart-pole (the classic Barto-Sutton-Anderson dynamics, as in Gym's CartPole-v1).

struct CartPole {
  static constexpr double kGravity = 9.8, kMassCart = 1.0, kMassPole = 0.1, kHalfLength = 0.5;
  static constexpr double kForce = 10.0, kTau = 0.02;
  static constexpr double kXLimit = 2.4, kThetaLimit = 12.0 * 3.14159265358979323846 / 180.0;
  static constexpr int kMaxSteps = 500;

  std::array<double, 4> s{};  // x, x_dot, theta, theta_dot
  int steps = 0;

  template <class Rng>
  void reset(Rng& uniform) {
    for (double& v : s) v = -0.05 + 0.1 * uniform();
    steps = 0;
  }

  // Applies action 0 (push left) or 1 (push right); returns true when the episode ended
  // (pole fell, cart left the track, or 500 steps).
  bool step(int action) {
    const double total_mass = kMassCart + kMassPole, pole_mass_length = kMassPole * kHalfLength;
    const double force = action == 1 ? kForce : -kForce;
    const double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    const double cos_t = std::cos(theta), sin_t = std::sin(theta);
    const double temp = (force + pole_mass_length * theta_dot * theta_dot * sin_t) / total_mass;
    const double theta_acc = (kGravity * sin_t - cos_t * temp) /
                             (kHalfLength * (4.0 / 3.0 - kMassPole * cos_t * cos_t / total_mass));
    const double x_acc = temp - pole_mass_length * theta_acc * cos_t / total_mass;
    s = {x + kTau * x_dot, x_dot + kTau * x_acc, theta + kTau * theta_dot,
         theta_dot + kTau * theta_acc};
    ++steps;
    return std::fabs(s[0]) > kXLimit || std::fabs(s[2]) > kThetaLimit || steps >= kMaxSteps;
  }
  bool truncated() const {
    return steps >= kMaxSteps && std::fabs(s[0]) <= kXLimit && std::fabs(s[2]) <= kThetaLimit;
  }
};

// ------------------------------------------------------------------------------------------
// Policy: logits = W phi(s), phi(s) = (s, 1); two actions. Value: ridge regression on
// quadratic features, refitted each iteration.

constexpr int kObs = 4, kFeat = kObs + 1, kActions = 2;
constexpr int kVFeat = 1 + kObs + kObs * (kObs + 1) / 2;  // 1, s_i, s_i s_j (i <= j)

std::array<double, kFeat> policy_features(const std::array<double, 4>& s) {
  return {s[0], s[1], s[2], s[3], 1.0};
}

std::array<double, kVFeat> value_features(const std::array<double, 4>& s) {
  std::array<double, kVFeat> f{};
  int k = 0;
  f[k++] = 1.0;
  for (int i = 0; i < kObs; ++i) f[k++] = s[static_cast<size_t>(i)];
  for (int i = 0; i < kObs; ++i)
    for (int j = i; j < kObs; ++j) f[k++] = s[static_cast<size_t>(i)] * s[static_cast<size_t>(j)];
  return f;
}

// Solves (A + ridge I) x = b by Gaussian elimination with partial pivoting (A is n x n).
std::vector<double> solve_ridge(std::vector<double> A, std::vector<double> b, int n, double ridge) {
  for (int i = 0; i < n; ++i) A[static_cast<size_t>(i * n + i)] += ridge;
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(A[static_cast<size_t>(r * n + c)]) >
          std::fabs(A[static_cast<size_t>(p * n + c)]))
        p = r;
    for (int k = 0; k < n; ++k)
      std::swap(A[static_cast<size_t>(c * n + k)], A[static_cast<size_t>(p * n + k)]);
    std::swap(b[static_cast<size_t>(c)], b[static_cast<size_t>(p)]);
    const double d = A[static_cast<size_t>(c * n + c)];
    for (int r = c + 1; r < n; ++r) {
      const double f = A[static_cast<size_t>(r * n + c)] / d;
      for (int k = c; k < n; ++k)
        A[static_cast<size_t>(r * n + k)] -= f * A[static_cast<size_t>(c * n + k)];
      b[static_cast<size_t>(r)] -= f * b[static_cast<size_t>(c)];
    }
  }
  std::vector<double> x(static_cast<size_t>(n));
  for (int r = n - 1; r >= 0; --r) {
    double acc = b[static_cast<size_t>(r)];
    for (int k = r + 1; k < n; ++k)
      acc -= A[static_cast<size_t>(r * n + k)] * x[static_cast<size_t>(k)];
    x[static_cast<size_t>(r)] = acc / A[static_cast<size_t>(r * n + r)];
  }
  return x;
}

struct Adam {
  double lr, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::vector<double> m, v;
  long t = 0;
  Adam(size_t n, double lr_) : lr(lr_), m(n, 0.0), v(n, 0.0) {}
  void step(std::vector<double>& w, const std::vector<double>& g) {
    ++t;
    const double c1 = 1.0 - std::pow(b1, static_cast<double>(t)),
                 c2 = 1.0 - std::pow(b2, static_cast<double>(t));
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] = b1 * m[i] + (1.0 - b1) * g[i];
      v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
      w[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
    }
  }
};

int run(int iterations, std::uint64_t seed) {
  // Hyper-parameters (PPO defaults, scaled to a linear policy).
  const int steps_per_rollout = 2048, epochs = 8, minibatch = 256;
  const double gamma = 0.99, gae_lambda = 0.95, lr = 0.02;

  std::mt19937_64 gen(seed);  // the engine's output is fixed by the standard: reproducible
  auto uniform = [&gen] { return static_cast<double>(gen() >> 11) * (1.0 / 9007199254740992.0); };

  // The clip-range controller: PPO-BR with the paper's defaults; H_ref = log(2) for two actions.
  ppobr::PPOBRConfig cfg;
  cfg.entropy_ref = std::log(static_cast<double>(kActions));
  ppobr::PPOBRController controller(cfg);

  std::vector<double> W(kActions * kFeat, 0.0);  // uniform policy at the start
  Adam adam(W.size(), lr);
  std::vector<double> value_w(kVFeat, 0.0);

  CartPole env;
  env.reset(uniform);
  double episode_return = 0.0;

  const size_t N = static_cast<size_t>(steps_per_rollout);
  std::vector<std::array<double, 4>> obs(N);
  std::vector<std::int64_t> actions(N);
  std::vector<double> rewards(N), values(N + 1), logits(N * kActions), logp_old(N), entropy(N);
  std::vector<std::uint8_t> done(N), cut(N);  // done: episode ended; cut: ended by the time limit
  std::vector<double> bootstrap(N, 0.0);      // V(s_{t+1}) for time-limit cuts

  double first_mean = -1.0;
  std::vector<double> iteration_means;

  std::printf("iter  steps    episodes  mean_return  epsilon  entropy  clip_frac  approx_kl\n");
  for (int it = 0; it < iterations; ++it) {
    // ---- rollout ------------------------------------------------------------------------
    std::vector<double> finished;  // returns of the episodes completed in this rollout
    auto value_of = [&](const std::array<double, 4>& s) {
      const auto f = value_features(s);
      return std::inner_product(f.begin(), f.end(), value_w.begin(), 0.0);
    };
    for (size_t t = 0; t < N; ++t) {
      obs[t] = env.s;
      values[t] = value_of(env.s);
      const auto phi = policy_features(env.s);
      double l[kActions];
      for (int a = 0; a < kActions; ++a) {
        l[a] = 0.0;
        for (int k = 0; k < kFeat; ++k)
          l[a] += W[static_cast<size_t>(a * kFeat + k)] * phi[static_cast<size_t>(k)];
        logits[t * kActions + static_cast<size_t>(a)] = l[a];
      }
      const double p1 = 1.0 / (1.0 + std::exp(l[0] - l[1]));
      actions[t] = uniform() < p1 ? 1 : 0;
      const bool ended = env.step(static_cast<int>(actions[t]));
      rewards[t] = 1.0;
      episode_return += 1.0;
      done[t] = ended;
      cut[t] = ended && env.truncated();
      bootstrap[t] = cut[t] ? value_of(env.s) : 0.0;
      if (ended) {
        finished.push_back(episode_return);
        episode_return = 0.0;
        env.reset(uniform);
      }
    }
    values[N] = value_of(env.s);

    // logp_old and per-sample entropy in one fused pass over the rollout's logits.
    const ppobr::View2D<double> logits_view{logits.data(), static_cast<std::int64_t>(N), kActions,
                                            kActions, 1};
    ppobr::categorical_logprob_entropy<double>(logits_view, actions.data(), 1, logp_old.data(),
                                               entropy.data());
    const double mean_entropy =
        std::accumulate(entropy.begin(), entropy.end(), 0.0) / static_cast<double>(N);

    // ---- eps for this iteration: once per rollout, before the update epochs --------------
    ppobr::Observation o;
    o.entropy = mean_entropy;
    o.episode_returns = finished.data();
    o.num_episode_returns = finished.size();
    const double eps = controller.update(o);

    // ---- GAE(lambda) advantages ------------------------------------------------------------
    std::vector<double> adv(N), ret(N);
    double gae = 0.0;
    for (size_t i = N; i-- > 0;) {
      const double next_v = done[i] ? bootstrap[i] : values[i + 1];
      const double delta = rewards[i] + gamma * next_v - values[i];
      gae = delta + (done[i] ? 0.0 : gamma * gae_lambda * gae);
      adv[i] = gae;
      ret[i] = gae + values[i];
    }
    const double adv_mean = std::accumulate(adv.begin(), adv.end(), 0.0) / static_cast<double>(N);
    double adv_var = 0.0;
    for (double a : adv) adv_var += (a - adv_mean) * (a - adv_mean);
    const double adv_std = std::sqrt(adv_var / static_cast<double>(N)) + 1e-8;
    for (double& a : adv) a = (a - adv_mean) / adv_std;

    // ---- PPO epochs over shuffled minibatches ----------------------------------------------
    std::vector<size_t> order(N);
    std::iota(order.begin(), order.end(), size_t{0});
    double clip_sum = 0.0, clip_count = 0.0, kl_sum = 0.0, kl_count = 0.0;
    const size_t M = static_cast<size_t>(minibatch);
    std::vector<double> mb_logits(M * kActions), mb_logp_new(M), mb_logp_old(M), mb_adv(M), grad(M);
    std::vector<std::int64_t> mb_actions(M);
    for (int e = 0; e < epochs; ++e) {
      for (size_t i = N - 1; i > 0; --i)
        std::swap(order[i], order[static_cast<size_t>(gen() % (i + 1))]);
      for (size_t start = 0; start + M <= N; start += M) {
        for (size_t j = 0; j < M; ++j) {
          const size_t t = order[start + j];
          const auto phi = policy_features(obs[t]);
          for (int a = 0; a < kActions; ++a) {
            double l = 0.0;
            for (int k = 0; k < kFeat; ++k)
              l += W[static_cast<size_t>(a * kFeat + k)] * phi[static_cast<size_t>(k)];
            mb_logits[j * kActions + static_cast<size_t>(a)] = l;
          }
          mb_actions[j] = actions[t];
          mb_logp_old[j] = logp_old[t];
          mb_adv[j] = adv[t];
        }
        const ppobr::View2D<double> lv{mb_logits.data(), static_cast<std::int64_t>(M), kActions,
                                       kActions, 1};
        ppobr::categorical_logprob_entropy<double>(lv, mb_actions.data(), 1, mb_logp_new.data(),
                                                   nullptr);

        // The fused kernel: loss, d loss / d logp_new and statistics in one pass.
        const std::int64_t m = static_cast<std::int64_t>(M);
        ppobr::SurrogateInputs<double> in;
        in.logp_new = {mb_logp_new.data(), 1, m, 0, 1};
        in.logp_old = {mb_logp_old.data(), 1, m, 0, 1};
        in.advantages = {mb_adv.data(), 1, m, 0, 1};
        ppobr::SurrogateOptions opt;
        opt.eps_low = eps;
        opt.eps_high = eps;
        const ppobr::SurrogateResult r = ppobr::clipped_surrogate<double>(in, opt, grad.data());
        clip_sum += r.stats.sum[ppobr::kClipFraction];
        clip_count += r.stats.count[ppobr::kClipFraction];
        kl_sum += r.stats.sum[ppobr::kKlK3];
        kl_count += r.stats.count[ppobr::kKlK3];

        // Chain rule through the softmax: d logp(a) / d logits_b = [a == b] - p_b.
        std::vector<double> gW(W.size(), 0.0);
        for (size_t j = 0; j < M; ++j) {
          if (grad[j] == 0.0) continue;  // clipped: no gradient
          const double* l = &mb_logits[j * kActions];
          const double p1 = 1.0 / (1.0 + std::exp(l[0] - l[1]));
          const double p[kActions] = {1.0 - p1, p1};
          const auto phi = policy_features(obs[order[start + j]]);
          for (int a = 0; a < kActions; ++a) {
            const double dlogit = grad[j] * ((mb_actions[j] == a ? 1.0 : 0.0) - p[a]);
            for (int k = 0; k < kFeat; ++k)
              gW[static_cast<size_t>(a * kFeat + k)] += dlogit * phi[static_cast<size_t>(k)];
          }
        }
        adam.step(W, gW);
      }
    }

    // ---- value function: ridge regression on the GAE returns ------------------------------
    std::vector<double> A(kVFeat * kVFeat, 0.0), b(kVFeat, 0.0);
    for (size_t t = 0; t < N; ++t) {
      const auto f = value_features(obs[t]);
      for (int i = 0; i < kVFeat; ++i) {
        b[static_cast<size_t>(i)] += f[static_cast<size_t>(i)] * ret[t];
        for (int j = 0; j < kVFeat; ++j)
          A[static_cast<size_t>(i * kVFeat + j)] +=
              f[static_cast<size_t>(i)] * f[static_cast<size_t>(j)];
      }
    }
    value_w = solve_ridge(A, b, kVFeat, 1e-3 * static_cast<double>(N));

    const double mean_return = finished.empty()
                                   ? episode_return
                                   : std::accumulate(finished.begin(), finished.end(), 0.0) /
                                         static_cast<double>(finished.size());
    if (first_mean < 0.0) first_mean = mean_return;
    iteration_means.push_back(mean_return);
    std::printf("%4d  %7d  %8zu  %11.1f  %7.4f  %7.4f  %9.4f  %9.5f\n", it,
                (it + 1) * steps_per_rollout, finished.size(), mean_return, eps, mean_entropy,
                clip_sum / clip_count, kl_sum / kl_count);
  }

  // A checkpoint of the controller: bytes that restore to one that continues bit-identically.
  const std::vector<std::uint8_t> bytes = controller.serialize();
  const std::unique_ptr<ppobr::Controller> restored =
      ppobr::deserialize_controller(bytes.data(), bytes.size());
  if (restored->epsilon() != controller.epsilon()) {
    std::fprintf(stderr, "restored controller differs\n");
    return 1;
  }
  std::printf("controller checkpoint: %zu bytes; diagnostics:", bytes.size());
  for (const auto& kv : controller.diagnostics())
    std::printf(" %s=%.4g", kv.first.c_str(), kv.second);
  std::printf("\n");

  const size_t tail = std::min<size_t>(5, iteration_means.size());
  const double last_mean =
      std::accumulate(iteration_means.end() - static_cast<std::ptrdiff_t>(tail),
                      iteration_means.end(), 0.0) /
      static_cast<double>(tail);
  const bool improved = last_mean >= 3.0 * first_mean && last_mean >= 150.0;
  std::printf("mean return: first iteration %.1f, last %zu iterations %.1f -> %s\n", first_mean,
              tail, last_mean, improved ? "improved" : "DID NOT IMPROVE");
  return improved ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 30;
  const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  if (iterations < 1) {
    std::fprintf(stderr, "usage: %s [iterations >= 1] [seed]\n", argv[0]);
    return 2;
  }
  try {
    return run(iterations, seed);
  } catch (const std::exception& e) {  // ppobr::InvalidArgument names the argument at fault
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
