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
# The JAX study's CPU config (tests/jax_study): gymnax and optax. gymnax 1.0.1 needs jax < 0.12
# and gymnasium < 1.4, so pip may downgrade those two here, before the package is built; it
# imports six without declaring it. brax: the study's Brax path (a small hopper test);
# ray: `ppobr compare --ray` against a local Ray instance.
python -m pip install "gymnax>=1.0.1" six "optax>=0.2" "jax<0.12" "gymnasium[classic-control]>=1.1,<1.4" \
  brax ray
# jax's FFI headers let the build add ppobr_core._jax_ffi (build isolation hides jax, so say where).
python -m pip install ".[test,compare]" \
  -C cmake.define.PPOBR_JAX_FFI_INCLUDE_DIR="$(python -c 'import jax.ffi; print(jax.ffi.include_dir())')"
