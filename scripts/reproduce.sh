#!/usr/bin/env bash
# The reproduction of docs/RESULTS.md, resumable across machines and sessions: every
# finished run is written compactly into docs/results/repro/, which is kept in git, so a rerun
# from a clean checkout skips what earlier sessions committed and runs only what is missing.
# Then the claims tables in docs/RESULTS.md are rewritten from the summaries, and every run
# recorded twice (an earlier summary and a committed rerun) is checked to be bit-identical.
#
#   bash scripts/reproduce.sh               # one worker per core (WORKERS=N to change)
#   git add docs/results/repro docs/RESULTS.md && git commit ...    # as runs finish
#
# CartPole-v1 is complete (docs/results/CartPole-v1_500000/, from before runs were kept in git).
# A 1M-step run takes about 4 CPU-minutes on LunarLander and 15-35 on the MuJoCo tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
# `ppobr` is the console script of the installed package (study/ppobr_study/cli.py); where it is
# not on PATH (a checkout used through PYTHONPATH), the same command runs as a module.
if ! command -v ppobr >/dev/null 2>&1; then
  ppobr() { python -m ppobr_study "$@"; }
fi
out=docs/results/repro
workers=${WORKERS:-$(nproc)}
# LunarLander and Hopper: PPO vs PPO-BR with the ablations and the larger-fixed-ε control.
ppobr compare --env LunarLander-v3,Hopper-v5 --controllers ppo,ppobr,ppo-wide,ppobr-entropy,ppobr-reward \
  --seeds 10 --steps paper --workers "$workers" --no-progress --compact --out "$out"
# The other MuJoCo tasks: PPO vs PPO-BR.
ppobr compare --env HalfCheetah-v5,Walker2d-v5,Humanoid-v5 --controllers ppo,ppobr \
  --seeds 10 --steps paper --workers "$workers" --no-progress --compact --out "$out"
ppobr report docs/results "$out" --update docs/RESULTS.md
ppobr reruns docs/results "$out"   # runs recorded twice must agree to the last bit
# The 128-seed study of docs/RESULTS_JAX.md on the jax trainer (JAX128=1 to run it; needs the
# jaxstudy extra; on a 2-core CPU 20-30 CPU-minutes per gymnax task (measured: docs/RESULTS_JAX.md), resumable).
if [ "${JAX128:-0}" = 1 ]; then
  ppobr compare --env CartPole-v1,Acrobot-v1,MountainCar-v0 --engine jax \
    --controllers ppo,ppobr,ppo-wide --seeds 128 --workers "$workers" --no-progress --out runs/jax128
fi
