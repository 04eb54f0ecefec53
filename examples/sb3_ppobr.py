"""Stable-Baselines3's PPO example (CartPole, 4 parallel envs) with PPO-BR's clip range.

The lines marked ``# PPO-BR`` are the whole difference from SB3's documented usage of PPO
(train, save, load, run the trained policy): a controller, and a callback that updates it once
per rollout and makes SB3's train() clip with its ε. ``--controller constant`` is plain PPO.

    python examples/sb3_ppobr.py --timesteps 25000
    python examples/sb3_ppobr.py --controller constant
"""

import argparse
import math  # PPO-BR
import os
import tempfile

from ppobr_sb3 import PPOBRCallback  # PPO-BR
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import ppobr_core  # PPO-BR

parser = argparse.ArgumentParser()
parser.add_argument("--timesteps", type=int, default=25_000)
parser.add_argument("--controller", choices=["ppobr", "constant"], default="ppobr")  # PPO-BR
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

# Parallel environments
vec_env = make_vec_env("CartPole-v1", n_envs=4, seed=args.seed)

if args.controller == "ppobr":  # PPO-BR
    n_actions = vec_env.action_space.n  # PPO-BR
    controller = ppobr_core.PPOBRController(eps0=0.2, entropy_ref=math.log(n_actions))  # PPO-BR
else:  # PPO-BR
    controller = ppobr_core.ConstantController(0.2)  # PPO-BR: plain PPO

model = PPO("MlpPolicy", vec_env, verbose=1, seed=args.seed)
model.learn(total_timesteps=args.timesteps, callback=PPOBRCallback(controller))  # PPO-BR
print(f"clip range after training: {controller.epsilon:.4f}")  # PPO-BR

path = os.path.join(tempfile.mkdtemp(), "ppo_cartpole")
model.save(path)  # the controller's state is saved inside the model
del model  # remove to demonstrate saving and loading

model = PPO.load(path, env=vec_env)
resume = PPOBRCallback()  # PPO-BR: no controller given: the saved one continues
model.learn(total_timesteps=8192, callback=resume, reset_num_timesteps=False)  # PPO-BR

obs = vec_env.reset()
returns, current = [], [0.0] * vec_env.num_envs
while len(returns) < 10:
    action, _states = model.predict(obs, deterministic=True)
    obs, rewards, dones, info = vec_env.step(action)
    for i, (r, done) in enumerate(zip(rewards, dones)):
        current[i] += float(r)
        if done:
            returns.append(current[i])
            current[i] = 0.0
print(f"mean return of 10 evaluation episodes: {sum(returns) / len(returns):.1f}")
