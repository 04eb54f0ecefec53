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
python -m pytest tests "$@"
