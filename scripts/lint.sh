#!/usr/bin/env bash
# Formatting and lint checks, run by CI: ruff (Python; settings in pyproject.toml) and
# clang-format (C and C++; settings in .clang-format). `bash scripts/lint.sh --fix` rewrites the
# files instead of checking them. Versions are pinned in scripts/install_test_deps.sh so that
# every machine formats alike.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t native < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')
if [[ "${1:-}" == "--fix" ]]; then
  ruff check --fix .
  ruff format .
  clang-format -i "${native[@]}"
  exit 0
fi
ruff check .
ruff format --check .
clang-format --dry-run --Werror "${native[@]}"
echo "lint: ruff and clang-format clean"
