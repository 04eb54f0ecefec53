#!/usr/bin/env bash
# Everything the test command (scripts/test.sh) needs, installed into the active Python: the
# build tools, torch, jax, the environments and libraries the tests drive, then this package
# (built from source) with its test and compare extras. README's test command runs this first;
# so does CI, in a fresh venv.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install cmake ninja
# torch: exactly this CPU build (it lies on local disk on this project's machines); any other
# spec pulls a multi-GB CUDA build. The package itself accepts torch>=2.1,<3.
python -m pip install torch==2.13.0
python -m pip install jax "gymnasium[classic-control]>=1.1" torchrl
# Stable-Baselines3 and sb3-contrib: tests/sb3 and `ppobr compare --trainer sb3` (they accept torch 2.13.0).
python -m pip install "stable-baselines3>=2.9" "sb3-contrib>=2.9"
# TRL (tests/trl): brings transformers, accelerate, datasets and tokenizers; keeps torch 2.13.0.
python -m pip install "trl>=1.16"
# greenlet: benchmarks/trl_overhead.py (two trainings on one thread), smoke-tested in tests/trl.
python -m pip install "greenlet>=3"
# The JAX study's CPU config (tests/jax_study): gymnax and optax. gymnax 1.0.1 needs jax < 0.12
# and gymnasium < 1.4, so pip may downgrade those two here, before the package is built; it
# imports six without declaring it. brax: the study's Brax path (a small hopper test);
# ray: `ppobr compare --ray` against a local Ray instance. gymnasium's mujoco extra (mujoco,
# imageio): `ppobr compare` on a MuJoCo task no document names (tests/study).
python -m pip install "gymnax>=1.0.1" six "optax>=0.2" "jax<0.12" \
  "gymnasium[classic-control,mujoco]>=1.1,<1.4" \
  brax ray
# The formatter and linter CI checks with (scripts/lint.sh), pinned so every machine agrees.
python -m pip install ruff==0.17.6 clang-format==23.1.5
# The package itself. jax is installed above, so the build finds its FFI headers on its own and
# adds ppobr_core._jax_ffi (no flag needed; tests/jax/test_jax_ffi.py checks it is there).
python -m pip install ".[test,compare]"
