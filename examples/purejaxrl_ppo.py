"""A compact, fully jitted PPO (PureJaxRL style) on gymnax CartPole-v1, vmapped over seeds,
with the clip range from ppobr_jax: plain PPO (constant ε) and PPO-BR.

    PYTHONPATH=adapters python examples/purejaxrl_ppo.py                 # 8 seeds, 500k steps, both
    PYTHONPATH=adapters python examples/purejaxrl_ppo.py --controller ppobr --seeds 4

Needs jax, optax and gymnax (``pip install gymnax`` brings optax). The whole training run —
rollouts, GAE, the controller update, the update epochs — is one jitted, vmapped function; the
controller state lives in the scan carry next to the network and optimizer states, and ε is a
traced value, so PPO-BR costs no recompilation and no host round trip.

Changing PPO into PPO-BR takes three lines (marked "PPO-BR" below): build the controller, carry
its state, and call ``update`` once per rollout with the rollout's mean entropy and the returns of
the episodes that finished in it.

Prints, per controller: steps per second (compile time excluded), the final average return per
seed (episodes that finished in the last 5% of training), how many seeds reach the bar
(>= 475), and the first step at which each seed's trailing 20-rollout average reached 475.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import NamedTuple

import numpy as np

import jax
import jax.numpy as jnp
import optax
from gymnax import make as gymnax_make
from gymnax.wrappers.purerl import LogWrapper

import ppobr_jax

CONFIG = dict(
    lr=2.5e-4,
    num_envs=4,
    num_steps=128,
    total_timesteps=500_000,
    update_epochs=4,
    num_minibatches=4,
    gamma=0.99,
    gae_lambda=0.95,
    clip_eps=0.2,
    ent_coef=0.01,
    vf_coef=0.5,
    max_grad_norm=0.5,
    hidden=64,
)
BAR = 475.0


# ---------------------------------------------------------------------------------------------
# A two-headed MLP (2 x 64, tanh), orthogonal init as in PureJaxRL


def _dense(key, n_in, n_out, scale):
    w = jax.nn.initializers.orthogonal(scale)(key, (n_in, n_out), jnp.float32)
    return {"w": w, "b": jnp.zeros((n_out,), jnp.float32)}


def init_params(key, obs_dim, n_actions, hidden):
    ks = jax.random.split(key, 6)
    s2 = math.sqrt(2.0)
    return {
        "pi": [_dense(ks[0], obs_dim, hidden, s2), _dense(ks[1], hidden, hidden, s2),
               _dense(ks[2], hidden, n_actions, 0.01)],
        "v": [_dense(ks[3], obs_dim, hidden, s2), _dense(ks[4], hidden, hidden, s2),
              _dense(ks[5], hidden, 1, 1.0)],
    }  # fmt: skip


def _mlp(layers, x):
    for layer in layers[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def apply(params, obs):
    logits = _mlp(params["pi"], obs)
    value = _mlp(params["v"], obs)[..., 0]
    return logits, value


def logp_entropy(logits, actions):
    logp_all = jax.nn.log_softmax(logits)
    logp = jnp.take_along_axis(logp_all, actions[..., None], axis=-1)[..., 0]
    ent = -jnp.sum(jnp.exp(logp_all) * logp_all, axis=-1)
    return logp, ent


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    done: jax.Array
    value: jax.Array
    logp: jax.Array
    entropy: jax.Array
    ep_return: jax.Array  # return of the episode that ended at this step (if done)


# ---------------------------------------------------------------------------------------------
# Training


def make_train(cfg, controller: ppobr_jax.EpsilonController):
    env, env_params = gymnax_make("CartPole-v1")
    env = LogWrapper(env)
    n_actions = env.action_space(env_params).n
    obs_dim = env.observation_space(env_params).shape[0]
    num_updates = cfg["total_timesteps"] // (cfg["num_envs"] * cfg["num_steps"])
    batch = cfg["num_envs"] * cfg["num_steps"]
    mb_size = batch // cfg["num_minibatches"]

    def lr_schedule(count):
        frac = 1.0 - (count // (cfg["num_minibatches"] * cfg["update_epochs"])) / num_updates
        return cfg["lr"] * frac

    tx = optax.chain(optax.clip_by_global_norm(cfg["max_grad_norm"]),
                     optax.adam(learning_rate=lr_schedule, eps=1e-5))  # fmt: skip

    def loss_fn(params, mb, eps):
        logits, value = apply(params, mb.obs)
        logp, ent = logp_entropy(logits, mb.action)
        adv = (mb.adv - mb.adv.mean()) / (mb.adv.std() + 1e-8)
        # the clipped surrogate with a traced ε (a new ε never recompiles)
        pg_loss, stats = ppobr_jax.clipped_surrogate(logp, mb.logp, adv, eps, entropy=ent)
        v_clipped = mb.value + jnp.clip(value - mb.value, -eps, eps)
        v_loss = 0.5 * jnp.maximum(jnp.square(value - mb.target),
                                   jnp.square(v_clipped - mb.target)).mean()  # fmt: skip
        total = pg_loss + cfg["vf_coef"] * v_loss - cfg["ent_coef"] * ent.mean()
        return total, stats

    class MB(NamedTuple):
        obs: jax.Array
        action: jax.Array
        logp: jax.Array
        value: jax.Array
        adv: jax.Array
        target: jax.Array

    def train(key):
        key, k_net, k_env = jax.random.split(key, 3)
        params = init_params(k_net, obs_dim, n_actions, cfg["hidden"])
        opt_state = tx.init(params)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(k_env, cfg["num_envs"]), env_params)
        ctl_state = controller.init()  # PPO-BR: the controller state, carried like the rest

        def update_step(carry, _):
            params, opt_state, env_state, obs, ctl_state, key = carry

            def env_step(c, _):
                env_state, obs, key = c
                key, k_act, k_step = jax.random.split(key, 3)
                logits, value = apply(params, obs)
                action = jax.random.categorical(k_act, logits)
                logp, ent = logp_entropy(logits, action)
                nobs, env_state, reward, term, trunc, info = jax.vmap(
                    env.step, in_axes=(0, 0, 0, None))(
                    jax.random.split(k_step, cfg["num_envs"]), env_state, action, env_params)
                done = jnp.logical_or(term, trunc)
                t = Transition(obs, action, reward, done, value, logp, ent,
                               info["returned_episode_returns"])  # fmt: skip
                return (env_state, nobs, key), t

            (env_state, obs, key), traj = jax.lax.scan(env_step, (env_state, obs, key), None,
                                                       cfg["num_steps"])  # fmt: skip

            # GAE
            _, last_val = apply(params, obs)

            def gae_step(c, t):
                gae, next_value = c
                delta = t.reward + cfg["gamma"] * next_value * (1 - t.done) - t.value
                gae = delta + cfg["gamma"] * cfg["gae_lambda"] * (1 - t.done) * gae
                return (gae, t.value), gae

            _, adv = jax.lax.scan(gae_step, (jnp.zeros_like(last_val), last_val), traj,
                                  reverse=True, unroll=16)  # fmt: skip
            targets = adv + traj.value

            # PPO-BR: one controller update per rollout, before the epochs. The returns of the
            # episodes that finished in this rollout, time-major (= chronological), with a mask.
            eps, ctl_state = controller.update(ctl_state, traj.entropy.mean(), traj.ep_return,
                                               traj.done)  # fmt: skip

            def epoch(c, _):
                params, opt_state, key = c
                key, k_perm = jax.random.split(key)
                perm = jax.random.permutation(k_perm, batch)
                flat = MB(traj.obs, traj.action, traj.logp, traj.value, adv, targets)
                flat = jax.tree.map(lambda x: x.reshape((batch,) + x.shape[2:])[perm], flat)
                mbs = jax.tree.map(
                    lambda x: x.reshape((cfg["num_minibatches"], mb_size) + x.shape[1:]), flat)

                def mb_step(c, mb):
                    params, opt_state = c
                    (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb, eps)
                    updates, opt_state = tx.update(grads, opt_state)
                    return (optax.apply_updates(params, updates), opt_state), stats.mean("kl_k3")

                (params, opt_state), kl = jax.lax.scan(mb_step, (params, opt_state), mbs)
                return (params, opt_state, key), kl

            (params, opt_state, key), kl = jax.lax.scan(epoch, (params, opt_state, key), None,
                                                        cfg["update_epochs"])  # fmt: skip
            ret_sum = jnp.sum(jnp.where(traj.done, traj.ep_return, 0.0))
            ret_cnt = jnp.sum(traj.done)
            metrics = (ret_sum, ret_cnt, eps, kl.mean())
            return (params, opt_state, env_state, obs, ctl_state, key), metrics

        carry = (params, opt_state, env_state, obs, ctl_state, key)
        _, metrics = jax.lax.scan(update_step, carry, None, num_updates)
        return metrics

    return train, num_updates


def summarize(name, metrics, steps_per_update, seconds, total_steps, seeds):
    ret_sum, ret_cnt, eps, kl = (np.asarray(m) for m in metrics)  # [seeds, updates]
    n_upd = ret_sum.shape[1]
    tail = max(1, n_upd // 20)  # the last 5% of training
    final = ret_sum[:, -tail:].sum(1) / np.maximum(ret_cnt[:, -tail:].sum(1), 1)
    # trailing 20-rollout average, for the first step that reaches the bar
    first = []
    for s in range(ret_sum.shape[0]):
        cs, cc = np.cumsum(ret_sum[s]), np.cumsum(ret_cnt[s])
        w = 20
        avg = (cs[w:] - cs[:-w]) / np.maximum(cc[w:] - cc[:-w], 1)
        hit = np.nonzero(avg >= BAR)[0]
        first.append(int((hit[0] + w + 1) * steps_per_update) if hit.size else None)
    ok = int(np.sum(final >= BAR))
    print(f"[{name}] {seeds} seeds x {total_steps} steps in {seconds:.1f} s: "
          f"{seeds * total_steps / seconds:,.0f} steps/s")  # fmt: skip
    print(f"[{name}] final average return per seed: {np.array2string(final, precision=1)}")
    print(f"[{name}] seeds >= {BAR:.0f}: {ok}/{seeds}; first step reaching it: {first}")
    print(f"[{name}] eps: first {eps[:, 0].mean():.4f}, mean {eps.mean():.4f}, "
          f"min {eps.min():.4f}, max {eps.max():.4f}; final kl_k3 {kl[:, -tail:].mean():.2e}")  # fmt: skip
    return final, ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--total-steps", type=int, default=CONFIG["total_timesteps"])
    ap.add_argument("--controller", choices=["both", "constant", "ppobr"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cfg = dict(CONFIG, total_timesteps=args.total_steps)
    controllers = {
        "constant": ppobr_jax.constant(cfg["clip_eps"]),
        # PPO-BR: the paper's defaults; H_ref = log(#actions) for a categorical policy
        "ppobr": ppobr_jax.ppobr(eps0=cfg["clip_eps"], lambda1=0.5, lambda2=0.3, window=10,
                                 entropy_ref=math.log(2.0)),  # fmt: skip
    }
    names = ["constant", "ppobr"] if args.controller == "both" else [args.controller]
    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; CartPole-v1; "
          f"{args.seeds} seeds vmapped; {cfg['total_timesteps']} steps each")  # fmt: skip
    results = {}
    for name in names:
        train, num_updates = make_train(cfg, controllers[name])
        t0 = time.perf_counter()
        compiled = jax.jit(jax.vmap(train)).lower(keys).compile()
        t1 = time.perf_counter()
        metrics = jax.block_until_ready(compiled(keys))
        t2 = time.perf_counter()
        print(f"[{name}] compiled in {t1 - t0:.1f} s")
        steps_per_update = cfg["num_envs"] * cfg["num_steps"]
        results[name] = summarize(name, metrics, steps_per_update, t2 - t1,
                                  num_updates * steps_per_update, args.seeds)  # fmt: skip
    return results


if __name__ == "__main__":
    main()
