# PureJaxRL's ppo.py (PPO, discrete actions, the whole training run one jitted function) with
# PPO-BR's adaptive clip range from ppobr_jax. The lines that make it PPO-BR are marked
# `# PPO-BR`: the controller is built, its state rides in the runner state next to the network's,
# it is updated once per rollout with the rollout's mean entropy and the returns of the episodes
# that finished in it, and the actor loss takes that ε as a traced value (no recompilation, no
# host round trip). The rest keeps PureJaxRL's structure, names and defaults. Adapted to this
# environment, not to PPO-BR: gymnax's own wrappers replace PureJaxRL's wrappers.py, its step
# returns (terminated, truncated), and a small categorical stands in for distrax's when distrax
# is not installed.
#
#     python examples/purejaxrl_ppo.py                                  # CartPole-v1, PPO-BR
#     python examples/purejaxrl_ppo.py --controller constant            # plain PPO
#     python examples/purejaxrl_ppo.py --total-timesteps 4096 --no-debug  # smoke run
import argparse
import math  # PPO-BR
from typing import NamedTuple, Sequence

import flax.linen as nn
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.linen.initializers import constant, orthogonal
from flax.training.train_state import TrainState
from gymnax.wrappers.purerl import FlattenObservationWrapper, LogWrapper

import ppobr_jax  # PPO-BR

try:
    from distrax import Categorical
except ImportError:

    class Categorical:
        """The part of distrax.Categorical that PPO uses: sample, log_prob, entropy."""

        def __init__(self, logits):
            self.logits = jax.nn.log_softmax(logits)

        def sample(self, seed):
            return jax.random.categorical(seed, self.logits)

        def log_prob(self, value):
            return jnp.take_along_axis(self.logits, value[..., None], axis=-1)[..., 0]

        def entropy(self):
            return -jnp.sum(jnp.exp(self.logits) * self.logits, axis=-1)


class ActorCritic(nn.Module):
    action_dim: Sequence[int]
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        if self.activation == "relu":
            activation = nn.relu
        else:
            activation = nn.tanh
        actor_mean = nn.Dense(64, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(x)
        actor_mean = activation(actor_mean)
        actor_mean = nn.Dense(64, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(
            actor_mean
        )
        actor_mean = activation(actor_mean)
        actor_mean = nn.Dense(
            self.action_dim, kernel_init=orthogonal(0.01), bias_init=constant(0.0)
        )(actor_mean)
        pi = Categorical(logits=actor_mean)

        critic = nn.Dense(64, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(x)
        critic = activation(critic)
        critic = nn.Dense(64, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(critic)
        critic = activation(critic)
        critic = nn.Dense(1, kernel_init=orthogonal(1.0), bias_init=constant(0.0))(critic)

        return pi, jnp.squeeze(critic, axis=-1)


class Transition(NamedTuple):
    done: jnp.ndarray
    action: jnp.ndarray
    value: jnp.ndarray
    reward: jnp.ndarray
    log_prob: jnp.ndarray
    entropy: jnp.ndarray  # PPO-BR: the policy entropy at each step of the rollout
    obs: jnp.ndarray
    info: jnp.ndarray


def make_train(config):
    config["NUM_UPDATES"] = int(
        config["TOTAL_TIMESTEPS"] // config["NUM_STEPS"] // config["NUM_ENVS"]
    )
    config["MINIBATCH_SIZE"] = config["NUM_ENVS"] * config["NUM_STEPS"] // config["NUM_MINIBATCHES"]
    env, env_params = gymnax.make(config["ENV_NAME"])
    env = FlattenObservationWrapper(env)
    env = LogWrapper(env)
    if config["CONTROLLER"] == "ppobr":  # PPO-BR: H_ref = log(#actions), the uniform policy's
        h_ref = math.log(env.action_space(env_params).n)  # PPO-BR
        controller = ppobr_jax.ppobr(eps0=config["CLIP_EPS"], entropy_ref=h_ref)  # PPO-BR
    else:  # PPO-BR: plain PPO through the same code path
        controller = ppobr_jax.constant(config["CLIP_EPS"])  # PPO-BR

    def linear_schedule(count):
        frac = (
            1.0
            - (count // (config["NUM_MINIBATCHES"] * config["UPDATE_EPOCHS"]))
            / config["NUM_UPDATES"]
        )
        return config["LR"] * frac

    def train(rng):
        # INIT NETWORK
        network = ActorCritic(env.action_space(env_params).n, activation=config["ACTIVATION"])
        rng, _rng = jax.random.split(rng)
        init_x = jnp.zeros(env.observation_space(env_params).shape)
        network_params = network.init(_rng, init_x)
        if config["ANNEAL_LR"]:
            tx = optax.chain(
                optax.clip_by_global_norm(config["MAX_GRAD_NORM"]),
                optax.adam(learning_rate=linear_schedule, eps=1e-5),
            )
        else:
            tx = optax.chain(
                optax.clip_by_global_norm(config["MAX_GRAD_NORM"]),
                optax.adam(config["LR"], eps=1e-5),
            )
        train_state = TrainState.create(
            apply_fn=network.apply,
            params=network_params,
            tx=tx,
        )
        ctl_state = controller.init()  # PPO-BR

        # INIT ENV
        rng, _rng = jax.random.split(rng)
        reset_rng = jax.random.split(_rng, config["NUM_ENVS"])
        obsv, env_state = jax.vmap(env.reset, in_axes=(0, None))(reset_rng, env_params)

        # TRAIN LOOP
        def _update_step(runner_state, unused):
            # COLLECT TRAJECTORIES
            def _env_step(runner_state, unused):
                train_state, env_state, last_obs, ctl_state, rng = runner_state  # PPO-BR

                # SELECT ACTION
                rng, _rng = jax.random.split(rng)
                pi, value = network.apply(train_state.params, last_obs)
                action = pi.sample(seed=_rng)
                log_prob = pi.log_prob(action)

                # STEP ENV
                rng, _rng = jax.random.split(rng)
                rng_step = jax.random.split(_rng, config["NUM_ENVS"])
                obsv, env_state, reward, terminated, truncated, info = jax.vmap(
                    env.step, in_axes=(0, 0, 0, None)
                )(rng_step, env_state, action, env_params)
                done = jnp.logical_or(terminated, truncated)
                transition = Transition(
                    done,
                    action,
                    value,
                    reward,
                    log_prob,
                    pi.entropy(),  # PPO-BR
                    last_obs,
                    info,
                )
                runner_state = (train_state, env_state, obsv, ctl_state, rng)  # PPO-BR
                return runner_state, transition

            runner_state, traj_batch = jax.lax.scan(
                _env_step, runner_state, None, config["NUM_STEPS"]
            )

            # CALCULATE ADVANTAGE
            train_state, env_state, last_obs, ctl_state, rng = runner_state  # PPO-BR
            _, last_val = network.apply(train_state.params, last_obs)

            def _calculate_gae(traj_batch, last_val):
                def _get_advantages(gae_and_next_value, transition):
                    gae, next_value = gae_and_next_value
                    done, value, reward = (
                        transition.done,
                        transition.value,
                        transition.reward,
                    )
                    delta = reward + config["GAMMA"] * next_value * (1 - done) - value
                    gae = delta + config["GAMMA"] * config["GAE_LAMBDA"] * (1 - done) * gae
                    return (gae, value), gae

                _, advantages = jax.lax.scan(
                    _get_advantages,
                    (jnp.zeros_like(last_val), last_val),
                    traj_batch,
                    reverse=True,
                    unroll=16,
                )
                return advantages, advantages + traj_batch.value

            advantages, targets = _calculate_gae(traj_batch, last_val)

            # PPO-BR: this update's ε, from the rollout's mean entropy and the returns of the
            # episodes that finished in it ([step, env] order is chronological; done masks them)
            eps, ctl_state = controller.update(  # PPO-BR
                ctl_state,
                traj_batch.entropy.mean(),
                traj_batch.info["returned_episode_returns"],
                traj_batch.done,
            )  # PPO-BR

            # UPDATE NETWORK
            def _update_epoch(update_state, unused):
                def _update_minbatch(train_state, batch_info):
                    traj_batch, advantages, targets = batch_info

                    def _loss_fn(params, traj_batch, gae, targets):
                        # RERUN NETWORK
                        pi, value = network.apply(params, traj_batch.obs)
                        log_prob = pi.log_prob(traj_batch.action)

                        # CALCULATE VALUE LOSS
                        value_pred_clipped = traj_batch.value + (value - traj_batch.value).clip(
                            -config["CLIP_EPS"], config["CLIP_EPS"]
                        )
                        value_losses = jnp.square(value - targets)
                        value_losses_clipped = jnp.square(value_pred_clipped - targets)
                        value_loss = 0.5 * jnp.maximum(value_losses, value_losses_clipped).mean()

                        # CALCULATE ACTOR LOSS (PPO-BR: the clipped surrogate with this ε)
                        gae = (gae - gae.mean()) / (gae.std() + 1e-8)
                        loss_actor = ppobr_jax.clipped_surrogate(  # PPO-BR
                            log_prob, traj_batch.log_prob, gae, eps
                        ).loss  # PPO-BR
                        entropy = pi.entropy().mean()

                        total_loss = (
                            loss_actor
                            + config["VF_COEF"] * value_loss
                            - config["ENT_COEF"] * entropy
                        )
                        return total_loss, (value_loss, loss_actor, entropy)

                    grad_fn = jax.value_and_grad(_loss_fn, has_aux=True)
                    total_loss, grads = grad_fn(train_state.params, traj_batch, advantages, targets)
                    train_state = train_state.apply_gradients(grads=grads)
                    return train_state, total_loss

                train_state, traj_batch, advantages, targets, rng = update_state
                rng, _rng = jax.random.split(rng)
                batch_size = config["MINIBATCH_SIZE"] * config["NUM_MINIBATCHES"]
                assert batch_size == config["NUM_STEPS"] * config["NUM_ENVS"], (
                    "batch size must be equal to number of steps * number of envs"
                )
                permutation = jax.random.permutation(_rng, batch_size)
                batch = (traj_batch, advantages, targets)
                batch = jax.tree_util.tree_map(
                    lambda x: x.reshape((batch_size,) + x.shape[2:]), batch
                )
                shuffled_batch = jax.tree_util.tree_map(
                    lambda x: jnp.take(x, permutation, axis=0), batch
                )
                minibatches = jax.tree_util.tree_map(
                    lambda x: jnp.reshape(x, [config["NUM_MINIBATCHES"], -1] + list(x.shape[1:])),
                    shuffled_batch,
                )
                train_state, total_loss = jax.lax.scan(_update_minbatch, train_state, minibatches)
                update_state = (train_state, traj_batch, advantages, targets, rng)
                return update_state, total_loss

            update_state = (train_state, traj_batch, advantages, targets, rng)
            update_state, loss_info = jax.lax.scan(
                _update_epoch, update_state, None, config["UPDATE_EPOCHS"]
            )
            train_state = update_state[0]
            metric = traj_batch.info
            metric["clip_range"] = eps  # PPO-BR
            rng = update_state[-1]
            if config.get("DEBUG"):
                # gymnax's LogWrapper keeps no timestep: the update count gives the global step
                def callback(info, update):
                    return_values = info["returned_episode_returns"][info["returned_episode"]]
                    step = (update + 1) * config["NUM_STEPS"] * config["NUM_ENVS"]
                    for r in return_values:
                        print(f"global step={step}, episodic return={r}")

                jax.debug.callback(
                    callback,
                    metric,
                    train_state.step // (config["NUM_MINIBATCHES"] * config["UPDATE_EPOCHS"]) - 1,
                )

            runner_state = (train_state, env_state, last_obs, ctl_state, rng)  # PPO-BR
            return runner_state, metric

        rng, _rng = jax.random.split(rng)
        runner_state = (train_state, env_state, obsv, ctl_state, _rng)  # PPO-BR
        runner_state, metric = jax.lax.scan(_update_step, runner_state, None, config["NUM_UPDATES"])
        return {"runner_state": runner_state, "metrics": metric}

    return train


if __name__ == "__main__":
    config = {
        "LR": 2.5e-4,
        "NUM_ENVS": 4,
        "NUM_STEPS": 128,
        "TOTAL_TIMESTEPS": 5e5,
        "UPDATE_EPOCHS": 4,
        "NUM_MINIBATCHES": 4,
        "GAMMA": 0.99,
        "GAE_LAMBDA": 0.95,
        "CLIP_EPS": 0.2,
        "ENT_COEF": 0.01,
        "VF_COEF": 0.5,
        "MAX_GRAD_NORM": 0.5,
        "ACTIVATION": "tanh",
        "ENV_NAME": "CartPole-v1",
        "ANNEAL_LR": True,
        "DEBUG": True,
        "CONTROLLER": "ppobr",  # PPO-BR: or "constant" (ε = CLIP_EPS, plain PPO)
    }
    # Overrides of the dict above from the command line, for short runs.
    parser = argparse.ArgumentParser(description="PureJaxRL's ppo.py with PPO-BR")
    parser.add_argument("--total-timesteps", type=float, default=config["TOTAL_TIMESTEPS"])
    parser.add_argument("--controller", choices=["ppobr", "constant"], default="ppobr")  # PPO-BR
    parser.add_argument("--no-debug", action="store_true", help="no line per finished episode")
    cli = parser.parse_args()
    config["TOTAL_TIMESTEPS"] = cli.total_timesteps
    config["CONTROLLER"] = cli.controller  # PPO-BR
    config["DEBUG"] = not cli.no_debug

    rng = jax.random.PRNGKey(30)
    train_jit = jax.jit(make_train(config))
    out = train_jit(rng)

    # What PureJaxRL's notebook plots: the mean return of the episodes finished per update.
    info = out["metrics"]
    finished = info["returned_episode"].sum(axis=(1, 2))
    returns = (info["returned_episode_returns"] * info["returned_episode"]).sum(axis=(1, 2))
    tail = max(1, config["NUM_UPDATES"] // 10)
    print(
        f"updates {config['NUM_UPDATES']}: mean episodic return over the last {tail} updates "
        f"{float(returns[-tail:].sum() / max(int(finished[-tail:].sum()), 1)):.1f}"
    )
    eps = np.asarray(info["clip_range"])  # PPO-BR
    print(f"eps ({config['CONTROLLER']}): first {eps[0]:.4f}, last {eps[-1]:.4f}")  # PPO-BR
