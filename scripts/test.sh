#!/usr/bin/env bash
# The test command: C++ tests through ctest, then the Python tests with pytest.
# Expects the package and the test dependencies installed in the active Python
# (bash scripts/install_test_deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/ctest -G Ninja -DPPOBR_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release
cmake --build build/ctest
ctest --test-dir build/ctest --output-on-failure
# install -> build examples/cpp against the installed package -> ASan/UBSan ctest
bash scripts/native_checks.sh --build-dir build/ctest
# jax is installed, so the package build must have added the FFI kernel on its own (no flag):
# fail here rather than let tests/jax/test_jax_ffi.py skip.
python -c "import ppobr_core._jax_ffi" || {
  echo "ppobr_core._jax_ffi was not built although jax is installed" >&2
  exit 1
}
python -m pytest tests "$@"
