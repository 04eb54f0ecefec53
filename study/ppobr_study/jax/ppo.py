"""PPO as one jitted program (PureJaxRL style), with the clip range from ``ppobr_jax``.

``make_train(env, params, controllers, num_iterations)`` returns ``train(key, ctl_index)``: a
whole training run — rollouts, GAE, the controller update, the update epochs — as nested
``lax.scan``s, pure and jittable, so that

    jax.jit(jax.vmap(jax.vmap(train, in_axes=(0, None)), in_axes=(None, 0)))(keys, ctl_indices)

runs every (controller, seed) at once. The algorithm is ``ppobr compare``'s trainer
(ppobr_study/train.py = CleanRL's ppo.py / ppo_continuous_action.py), step by step, with the
same hyper-parameters (ppobr_study.cleanrl_defaults):

- rollout: ``num_steps`` steps in ``num_envs`` environments; a truncation ends the episode
  like a termination (no bootstrap);
- the controller's update, once per rollout, before the epochs:
  ε_t = controller(mean entropy of the rollout, returns of the episodes that ended in it, KL of
  the previous update) — PPO-BR's ε_t = clip(ε0(1 + λ1 tanh φ(H_t) − λ2 tanh ψ(ΔR_t)), ε_min, ε_max);
- GAE: δ_t = r_t + γ V(s_{t+1})(1 − d_t) − V(s_t), A_t = δ_t + γλ(1 − d_t) A_{t+1};
- ``update_epochs`` passes over ``num_minibatches`` shuffled minibatches minimising
  L = −E[min(r A, clip(r, 1−ε_t, 1+ε_t) A)] + c_v · ½ max((V − R)², (V_clip − R)²) − c_e H,
  r = π/π_old (``ppobr_jax.clipped_surrogate``), advantages normalised per minibatch, the value
  clipped at a fixed 0.2 for every controller, gradient norm clipped at 0.5, Adam (eps 1e-5)
  with the learning rate annealed linearly to 0 over the iterations;
- continuous tasks: observations normalised by a running mean / variance and clipped at ±10,
  rewards divided by the running std of the discounted return and clipped at ±10 (CleanRL's
  gymnasium wrappers); episodic returns are recorded before that normalisation.
  One difference: the statistics are shared by a run's environments (PureJaxRL's choice)
  instead of one per environment; with CleanRL's single environment they are the same.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

import ppobr_jax
from ppobr_study.cleanrl_defaults import SHARED
from ppobr_study.jax.config import PPOParams
from ppobr_study.jax.controllers import ControllerSet, Signals
from ppobr_study.jax.envs import Env
from ppobr_study.jax.orthogonal import orthogonal

LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# The agent: 2 × hidden tanh MLPs for the policy and the value, orthogonal init (CleanRL's
# layer_init: √2 for hidden layers, 0.01 for the policy head, 1 for the value head), computed
# without LAPACK: a batched LAPACK QR can deadlock XLA's CPU thread pool (orthogonal.py).


def _dense(key, n_in, n_out, scale):
    return {
        "w": orthogonal(key, (n_in, n_out), scale, jnp.float32),
        "b": jnp.zeros((n_out,), jnp.float32),
    }


def init_params(key, env: Env, hidden: int) -> dict:
    k = jax.random.split(key, 6)
    out = env.num_actions if env.discrete else env.action_dim
    s2 = math.sqrt(2.0)
    params = {
        "pi": [
            _dense(k[0], env.obs_dim, hidden, s2),
            _dense(k[1], hidden, hidden, s2),
            _dense(k[2], hidden, out, 0.01),
        ],
        "v": [
            _dense(k[3], env.obs_dim, hidden, s2),
            _dense(k[4], hidden, hidden, s2),
            _dense(k[5], hidden, 1, 1.0),
        ],
    }
    if not env.discrete:
        params["log_std"] = jnp.zeros((out,), jnp.float32)  # state-independent, as CleanRL
    return params


def _mlp(layers, x):
    for layer in layers[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def value(params, obs):
    return _mlp(params["v"], obs)[..., 0]


def policy(params, obs):
    """Logits (categorical) or the mean (Gaussian) of the action distribution."""
    return _mlp(params["pi"], obs)


def sample(key, params, out, discrete: bool):
    if discrete:
        return jax.random.categorical(key, out)
    return out + jnp.exp(params["log_std"]) * jax.random.normal(key, out.shape)


def logp_entropy(params, out, action, discrete: bool):
    """log π(a|s) and the entropy H(π(·|s)), summed over the action dimensions (Gaussian):
    log N(a; μ, σ) = −(a − μ)²/(2σ²) − log σ − ½ log 2π,  H = Σ (½(1 + log 2π) + log σ)."""
    if discrete:
        logp_all = jax.nn.log_softmax(out)
        logp = jnp.take_along_axis(logp_all, action[..., None], axis=-1)[..., 0]
        return logp, -jnp.sum(jnp.exp(logp_all) * logp_all, axis=-1)
    log_std = params["log_std"]
    z = (action - out) * jnp.exp(-log_std)
    logp = jnp.sum(-0.5 * z * z - log_std - 0.5 * LOG_2PI, axis=-1)
    ent = jnp.sum(0.5 * (1.0 + LOG_2PI) + log_std) * jnp.ones(out.shape[:-1])
    return logp, ent


# ---------------------------------------------------------------------------------------------
# Running statistics (continuous tasks): Chan et al.'s parallel update of mean and variance,
# as gymnasium's RunningMeanStd (count starts at 1e-4).


class RunningStats(NamedTuple):
    mean: jax.Array
    var: jax.Array
    count: jax.Array


def running_stats(shape) -> RunningStats:
    return RunningStats(jnp.zeros(shape), jnp.ones(shape), jnp.full((), 1e-4))


def update_stats(s: RunningStats, x) -> RunningStats:
    """Adds a batch x[n, ...]: δ = x̄ − μ, μ' = μ + δ n/N', M' = var·c + var_x·n + δ² c n / N'."""
    n = x.shape[0]
    bmean, bvar = x.mean(0), x.var(0)
    tot = s.count + n
    delta = bmean - s.mean
    mean = s.mean + delta * n / tot
    m2 = s.var * s.count + bvar * n + delta**2 * s.count * n / tot
    return RunningStats(mean, m2 / tot, tot)


class Normalizer(NamedTuple):
    obs: RunningStats
    ret: RunningStats  # of the discounted return G_t = γ G_{t−1}(1 − d) + r_t
    discounted: jax.Array  # [num_envs] G_t


def normalize_obs(p: PPOParams, norm: Normalizer, obs):
    """Updates the observation statistics with obs, then (obs − μ)/√(σ² + 1e-8), clipped."""
    st = update_stats(norm.obs, obs)
    out = jnp.clip((obs - st.mean) / jnp.sqrt(st.var + 1e-8), -p.obs_clip, p.obs_clip)
    return out, norm._replace(obs=st)


def normalize_reward(p: PPOParams, norm: Normalizer, reward, done):
    """r / √(Var[G] + 1e-8), clipped (gymnasium's NormalizeReward, then TransformReward)."""
    g = norm.discounted * p.gamma + reward
    st = update_stats(norm.ret, g)
    out = jnp.clip(reward / jnp.sqrt(st.var + 1e-8), -p.reward_clip, p.reward_clip)
    return out, norm._replace(ret=st, discounted=jnp.where(done, 0.0, g))


# ---------------------------------------------------------------------------------------------
# One run.


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    logp: jax.Array
    entropy: jax.Array
    value: jax.Array
    reward: jax.Array  # the reward the agent learns from (normalised on continuous tasks)
    done: jax.Array
    ep_return: jax.Array  # raw return of the episode that ended at this step, NaN if none
    ep_length: jax.Array  # its length, 0 if none


class Minibatch(NamedTuple):
    obs: jax.Array
    action: jax.Array
    logp: jax.Array
    value: jax.Array
    adv: jax.Array
    target: jax.Array


class RunState(NamedTuple):
    params: dict
    opt_state: optax.OptState
    env_state: object
    obs: jax.Array  # the agent's (normalised) current observation
    norm: Normalizer
    ep_ret: jax.Array  # [num_envs] raw return so far in the current episode
    ep_len: jax.Array
    ctl_states: tuple
    last_kl: jax.Array  # k3 KL of the last update (NaN before the first)
    key: jax.Array


class IterationLog(NamedTuple):
    """Per iteration: the columns of ppobr compare's iterations.csv that a jitted run has."""

    epsilon: jax.Array
    phi: jax.Array
    psi: jax.Array
    z: jax.Array
    rollout_entropy: jax.Array
    entropy: jax.Array
    clip_fraction: jax.Array
    clip_fraction_low: jax.Array
    clip_fraction_high: jax.Array
    kl_k1: jax.Array
    kl_k3: jax.Array
    ratio_min: jax.Array
    ratio_max: jax.Array
    policy_loss: jax.Array
    value_loss: jax.Array
    explained_variance: jax.Array
    learning_rate: jax.Array
    episodes: jax.Array


class RunOutput(NamedTuple):
    iterations: IterationLog  # [num_iterations]
    ep_return: jax.Array  # [num_iterations, num_steps, num_envs] (NaN: no episode ended)
    ep_length: jax.Array  # same shape, int32 (0: no episode ended)


def gae(traj: Transition, last_value, gamma: float, lam: float):
    """Advantages and value targets by a reverse scan (see the module docstring)."""

    def step(carry, t):
        adv_next, v_next = carry
        nonterminal = 1.0 - t.done.astype(jnp.float32)
        delta = t.reward + gamma * v_next * nonterminal - t.value
        adv = delta + gamma * lam * nonterminal * adv_next
        return (adv, t.value), adv

    _, adv = jax.lax.scan(step, (jnp.zeros_like(last_value), last_value), traj, reverse=True)
    return adv, adv + traj.value


def make_train(env: Env, p: PPOParams, ctls: ControllerSet, num_iterations: int):
    """``train(key, ctl_index) -> RunOutput`` for one run (see the module docstring)."""
    discrete = env.discrete
    n_updates = p.num_minibatches * p.update_epochs

    def lr_schedule(count):
        # CleanRL: lr · (1 − (iteration − 1)/num_iterations), constant within an iteration
        if not p.anneal_lr:
            return jnp.asarray(p.learning_rate, jnp.float32)
        return p.learning_rate * (1.0 - (count // n_updates) / num_iterations)

    tx = optax.chain(
        optax.clip_by_global_norm(p.max_grad_norm),
        optax.adam(learning_rate=lr_schedule, eps=SHARED["adam_eps"]),
    )

    def loss_fn(params, mb: Minibatch, eps):
        out = policy(params, mb.obs)
        logp, ent = logp_entropy(params, out, mb.action, discrete)
        adv = mb.adv
        if p.norm_adv:
            adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)  # torch's std: unbiased
        pg_loss, stats = ppobr_jax.clipped_surrogate(logp, mb.logp, adv, eps, entropy=ent)
        v = value(params, mb.obs)
        v_clipped = mb.value + jnp.clip(v - mb.value, -p.value_clip, p.value_clip)
        v_loss = (
            0.5 * jnp.maximum(jnp.square(v - mb.target), jnp.square(v_clipped - mb.target)).mean()
        )
        total = pg_loss - p.ent_coef * ent.mean() + p.vf_coef * v_loss
        return total, (stats, pg_loss, v_loss)

    def env_step(params, carry, _):
        rs: RunState = carry
        key, k_act, k_env = jax.random.split(rs.key, 3)
        out = policy(params, rs.obs)
        action = sample(k_act, params, out, discrete)
        logp, ent = logp_entropy(params, out, action, discrete)
        v = value(params, rs.obs)
        raw_obs, env_state, reward, term, trunc = env.step(k_env, rs.env_state, action)
        done = term | trunc
        ep_ret, ep_len = rs.ep_ret + reward, rs.ep_len + 1
        norm = rs.norm
        if p.normalize:
            obs, norm = normalize_obs(p, norm, raw_obs)
            train_reward, norm = normalize_reward(p, norm, reward, done)
        else:
            obs, train_reward = raw_obs, reward
        t = Transition(
            rs.obs,
            action,
            logp,
            ent,
            v,
            train_reward,
            done,
            jnp.where(done, ep_ret, jnp.nan),
            jnp.where(done, ep_len, 0),
        )
        rs = rs._replace(
            env_state=env_state,
            obs=obs,
            norm=norm,
            key=key,
            ep_ret=jnp.where(done, 0.0, ep_ret),
            ep_len=jnp.where(done, 0, ep_len),
        )
        return rs, t

    def iteration(ctl_index, rs: RunState, it):
        # 1. rollout
        rs, traj = jax.lax.scan(lambda c, x: env_step(rs.params, c, x), rs, None, p.num_steps)

        # 2. the clip range for this iteration, once per rollout, before the epochs
        sig = Signals(traj.entropy.mean(), traj.ep_return, traj.done, rs.last_kl)
        diag, ctl_states = ctls.update(rs.ctl_states, ctl_index, sig)
        eps = diag.epsilon

        # 3. GAE
        adv, target = gae(traj, value(rs.params, rs.obs), p.gamma, p.gae_lambda)
        flat = Minibatch(traj.obs, traj.action, traj.logp, traj.value, adv, target)
        flat = jax.tree.map(lambda x: x.reshape((p.batch_size,) + x.shape[2:]), flat)

        # 4. update epochs
        def epoch(carry, _):
            params, opt_state, key = carry
            key, k_perm = jax.random.split(key)
            perm = jax.random.permutation(k_perm, p.batch_size)
            mbs = jax.tree.map(
                lambda x: x[perm].reshape((p.num_minibatches, p.minibatch_size) + x.shape[1:]), flat
            )

            def mb_step(c, mb):
                params, opt_state = c
                grads, aux = jax.grad(loss_fn, has_aux=True)(params, mb, eps)
                updates, opt_state = tx.update(grads, opt_state)
                return (optax.apply_updates(params, updates), opt_state), aux

            (params, opt_state), aux = jax.lax.scan(mb_step, (params, opt_state), mbs)
            return (params, opt_state, key), aux

        lr = lr_schedule(it * n_updates)  # the rate of this iteration's updates
        (params, opt_state, key), (stats, pg_loss, v_loss) = jax.lax.scan(
            epoch, (rs.params, rs.opt_state, rs.key), None, p.update_epochs
        )

        # statistics over every minibatch of every epoch: (sum, count) pairs summed, so the means
        # are exact; ratio_min / ratio_max are extremes
        sums, counts = (
            stats.sums.reshape(-1, stats.sums.shape[-1]),
            stats.counts.reshape(-1, stats.counts.shape[-1]),
        )
        total = ppobr_jax.SurrogateStats(sums.sum(0), counts.sum(0))
        m = total.as_dict()
        ratio_min = sums[:, ppobr_jax.STAT_NAMES.index("ratio_min")].min()
        ratio_max = sums[:, ppobr_jax.STAT_NAMES.index("ratio_max")].max()
        var_y = jnp.var(flat.target)
        explained = jnp.where(var_y == 0, jnp.nan, 1.0 - jnp.var(flat.target - flat.value) / var_y)

        log = IterationLog(
            epsilon=eps,
            phi=diag.phi,
            psi=diag.psi,
            z=diag.z,
            rollout_entropy=traj.entropy.mean(),
            entropy=m["entropy"],
            clip_fraction=m["clip_fraction"],
            clip_fraction_low=m["clip_fraction_low"],
            clip_fraction_high=m["clip_fraction_high"],
            kl_k1=m["kl_k1"],
            kl_k3=m["kl_k3"],
            ratio_min=ratio_min,
            ratio_max=ratio_max,
            policy_loss=pg_loss.mean(),
            value_loss=v_loss.mean(),
            explained_variance=explained,
            learning_rate=jnp.asarray(lr, jnp.float32),
            episodes=traj.done.sum(),
        )
        rs = rs._replace(
            params=params, opt_state=opt_state, key=key, ctl_states=ctl_states, last_kl=m["kl_k3"]
        )
        return rs, (log, traj.ep_return, traj.ep_length)

    def train(key, ctl_index) -> RunOutput:
        k_net, k_env, k_run = jax.random.split(key, 3)
        params = init_params(k_net, env, p.hidden)
        raw_obs, env_state = env.reset(k_env, p.num_envs)
        norm = Normalizer(
            running_stats((env.obs_dim,)), running_stats(()), jnp.zeros((p.num_envs,), jnp.float32)
        )
        obs = raw_obs
        if p.normalize:
            obs, norm = normalize_obs(p, norm, raw_obs)
        rs = RunState(
            params,
            tx.init(params),
            env_state,
            obs,
            norm,
            jnp.zeros((p.num_envs,), jnp.float32),
            jnp.zeros((p.num_envs,), jnp.int32),
            ctls.init(),
            jnp.full((), jnp.nan, jnp.float32),
            k_run,
        )
        _, (log, ep_return, ep_length) = jax.lax.scan(
            lambda c, it: iteration(ctl_index, c, it), rs, jnp.arange(num_iterations)
        )
        return RunOutput(log, ep_return, ep_length)

    return train


def vmapped(train):
    """train over seeds (keys [S]) and controllers (indices [C]): outputs [C, S, ...]."""
    return jax.vmap(jax.vmap(train, in_axes=(0, None)), in_axes=(None, 0))


def seed_keys(seeds) -> jax.Array:
    """One key per seed, from the seed alone: a seed's run does not depend on which other seeds
    share its program."""
    return jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
