"""TorchRL's PPO tutorial loop (collector, GAE, replay buffer, ClipPPOLoss) with PPO-BR's ε.

The structure is TorchRL's "Reinforcement Learning (PPO) with TorchRL" tutorial, on CartPole
with a categorical policy (the tutorial uses a MuJoCo task and a TanhNormal policy; the
PPO-BR lines are the same). The lines marked ``# PPO-BR`` are the whole difference: a
``RewardSum`` transform (so finished episodes' returns are in the batch), a controller, and
one ``clip.step(batch)`` per collected batch, which writes the new ε into ClipPPOLoss's
``clip_epsilon`` buffer in place. ``--controller constant`` is plain PPO.

    python examples/torchrl_ppobr.py --frames 50000
"""

import argparse
import math  # PPO-BR

import ppobr_torchrl  # PPO-BR
import torch
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.collectors import Collector
from torchrl.data.replay_buffers import ReplayBuffer
from torchrl.data.replay_buffers.samplers import SamplerWithoutReplacement
from torchrl.data.replay_buffers.storages import LazyTensorStorage
from torchrl.envs import Compose, DoubleToFloat, GymEnv, RewardSum, StepCounter, TransformedEnv
from torchrl.modules import MLP, ProbabilisticActor, ValueOperator
from torchrl.modules.distributions import OneHotCategorical
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

import ppobr_core  # PPO-BR

parser = argparse.ArgumentParser()
parser.add_argument("--frames", type=int, default=50_000)
parser.add_argument("--controller", choices=["ppobr", "constant"], default="ppobr")  # PPO-BR
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.manual_seed(args.seed)

frames_per_batch = 1000
sub_batch_size = 64
num_epochs = 10
clip_epsilon = 0.2
gamma, lmbda = 0.99, 0.95
entropy_eps = 1e-4
lr, max_grad_norm = 3e-4, 1.0

env = TransformedEnv(
    GymEnv("CartPole-v1"),
    Compose(DoubleToFloat(), StepCounter(), RewardSum()),  # PPO-BR: RewardSum
)
env.set_seed(args.seed)
n_obs = env.observation_spec["observation"].shape[-1]
n_actions = env.action_spec.shape[-1]

policy_module = ProbabilisticActor(
    TensorDictModule(
        MLP(
            in_features=n_obs, out_features=n_actions, num_cells=[64, 64], activation_class=nn.Tanh
        ),
        in_keys=["observation"],
        out_keys=["logits"],
    ),
    spec=env.action_spec,
    in_keys=["logits"],
    distribution_class=OneHotCategorical,
    return_log_prob=True,
)
value_module = ValueOperator(
    MLP(in_features=n_obs, out_features=1, num_cells=[64, 64], activation_class=nn.Tanh),
    in_keys=["observation"],
)

collector = Collector(
    env,
    policy_module,
    frames_per_batch=frames_per_batch,
    total_frames=args.frames,
    auto_register_policy_transforms=False,
)
replay_buffer = ReplayBuffer(
    storage=LazyTensorStorage(max_size=frames_per_batch),
    sampler=SamplerWithoutReplacement(),
)
advantage_module = GAE(gamma=gamma, lmbda=lmbda, value_network=value_module, average_gae=True)
loss_module = ClipPPOLoss(
    actor_network=policy_module,
    critic_network=value_module,
    clip_epsilon=clip_epsilon,
    entropy_bonus=bool(entropy_eps),
    entropy_coeff=entropy_eps,
)
optim = torch.optim.Adam(loss_module.parameters(), lr)

if args.controller == "ppobr":  # PPO-BR
    rule = ppobr_core.PPOBRController(eps0=clip_epsilon, entropy_ref=math.log(n_actions))  # PPO-BR
else:  # PPO-BR
    rule = ppobr_core.ConstantController(clip_epsilon)  # PPO-BR: plain PPO
clip = ppobr_torchrl.ControlledClipEpsilon(loss_module, rule, policy_module)  # PPO-BR

for i, tensordict_data in enumerate(collector):
    eps = clip.step(tensordict_data)  # PPO-BR: once per batch, before the epochs
    for _ in range(num_epochs):
        advantage_module(tensordict_data)
        replay_buffer.extend(tensordict_data.reshape(-1).cpu())
        for _ in range(frames_per_batch // sub_batch_size):
            subdata = replay_buffer.sample(sub_batch_size)
            loss_vals = loss_module(subdata)
            loss_value = (
                loss_vals["loss_objective"] + loss_vals["loss_critic"] + loss_vals["loss_entropy"]
            )
            loss_value.backward()
            torch.nn.utils.clip_grad_norm_(loss_module.parameters(), max_grad_norm)
            optim.step()
            optim.zero_grad()
    done = tensordict_data["next", "done"]
    finished = tensordict_data["next", "episode_reward"][done]
    mean_return = finished.mean().item() if finished.numel() else float("nan")
    print(
        f"batch {i}: eps {eps:.4f}, finished episodes' mean return {mean_return:.1f}"
    )  # PPO-BR: eps
collector.shutdown()
