#!/usr/bin/env bash
# Native embedding checks (no Python involved):
#   1. build the core and install it into a prefix (cmake --install) -> build/native-prefix;
#   2. configure and build examples/cpp, a separate CMake project, against that prefix
#      (find_package(ppobr CONFIG)), and run both examples (C++ cart-pole PPO, C ABI program);
#   3. build the C++ tests with -fsanitize=address,undefined (build/asan) and run ctest there;
#   4. with --fuzz SECONDS (or --fuzz-only SECONDS): build the libFuzzer targets with clang
#      (build/fuzz; clang and its fuzzer runtime are installed with apt-get when missing) and
#      run each for SECONDS with no finding, printing exec/s and corpus sizes.
#
# Usage: scripts/native_checks.sh [--build-dir DIR] [--fuzz SECONDS | --fuzz-only SECONDS]
#   --build-dir DIR  install from this (already configured or new) build tree instead of
#                    build/native-install, e.g. build/ctest after scripts/test.sh built it.
# Environment: PPOBR_JOBS (parallel build jobs, default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

FUZZ_SECONDS=""
RUN_NATIVE=1
INSTALL_BUILD=build/native-install
while [[ $# -gt 0 ]]; do
  case "$1" in
    --fuzz|--fuzz-only)
      [[ "$1" == --fuzz-only ]] && RUN_NATIVE=0
      if [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]]; then FUZZ_SECONDS=$2; shift 2; else FUZZ_SECONDS=60; shift; fi
      ;;
    --build-dir)
      INSTALL_BUILD=${2:?--build-dir needs a directory}; shift 2
      ;;
    -h|--help)
      sed -n '2,16p' "$0"; exit 0
      ;;
    *)
      echo "native_checks.sh: unknown argument '$1' (see --help)" >&2; exit 2
      ;;
  esac
done

JOBS=${PPOBR_JOBS:-$(nproc 2>/dev/null || echo 2)}
GEN=()
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
PREFIX=$ROOT/build/native-prefix

step() { printf '\n==== %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# Configures $1 unless it already has a CMakeCache.txt (an existing tree keeps its options).
configure() {
  local dir=$1; shift
  if [[ -f "$dir/CMakeCache.txt" ]]; then
    cmake "$dir" >/dev/null
  else
    cmake -S "$ROOT" -B "$dir" "${GEN[@]}" "$@"
  fi
}

# ---------------------------------------------------------------------------------------------
install_and_examples() {
  local t0; t0=$(date +%s)
  step "install the core into $PREFIX (build tree: $INSTALL_BUILD)"
  configure "$INSTALL_BUILD" -DCMAKE_BUILD_TYPE=Release -DPPOBR_BUILD_TESTS=OFF \
    -DPPOBR_INSTALL=ON -DPPOBR_BUILD_C_SHARED=ON
  cmake --build "$INSTALL_BUILD" -j "$JOBS"
  rm -rf "$PREFIX"
  cmake --install "$INSTALL_BUILD" --prefix "$PREFIX"
  for f in include/ppobr/c_api.h include/ppobr/ppobr.hpp; do
    [[ -f "$PREFIX/$f" ]] || { echo "missing after install: $f" >&2; exit 1; }
  done
  local config; config=$(find "$PREFIX" -name ppobrConfig.cmake -print -quit)
  [[ -n "$config" && -f "$(dirname "$config")/ppobrConfigVersion.cmake" ]] \
    || { echo "ppobrConfig.cmake / ppobrConfigVersion.cmake not installed" >&2; exit 1; }
  echo "installed: $config"

  step "build examples/cpp against the installed package (a separate CMake project)"
  rm -rf build/examples
  cmake -S examples/cpp -B build/examples "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
  cmake --build build/examples -j "$JOBS"

  step "run examples/cpp/cartpole_ppo (C++: simulator + PPO with ppobr's kernel and PPO-BR)"
  build/examples/cartpole_ppo
  step "run examples/cpp/c_api_example (C, static library)"
  build/examples/c_api_example
  if [[ -x build/examples/c_api_example_shared ]]; then
    step "run examples/cpp/c_api_example_shared (C, shared libppobr_c)"
    build/examples/c_api_example_shared >/dev/null
    echo "c_api_example_shared: ok"
  fi
  echo "install + examples: $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------
sanitizer_tests() {
  local t0; t0=$(date +%s)
  step "C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer (build/asan)"
  local san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  configure build/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
    -DCMAKE_CXX_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DPPOBR_BUILD_TESTS=ON -DPPOBR_INSTALL=OFF -DPPOBR_BUILD_C_SHARED=OFF
  cmake --build build/asan -j "$JOBS"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_init_order=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir build/asan --output-on-failure -j "$JOBS"
  echo "sanitizer ctest: $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

# Can clang++ link a libFuzzer target with ASan and UBSan?
fuzzer_toolchain_ok() {
  command -v clang++ >/dev/null 2>&1 || return 1
  local d; d=$(mktemp -d)
  printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' > "$d/t.cpp"
  local rc=0
  clang++ -fsanitize=fuzzer,address,undefined "$d/t.cpp" -o "$d/t" >/dev/null 2>&1 || rc=1
  rm -rf "$d"
  return $rc
}

ensure_clang() {
  fuzzer_toolchain_ok && return 0
  command -v apt-get >/dev/null 2>&1 || { echo "clang with libFuzzer is missing and apt-get is unavailable" >&2; return 1; }
  step "installing clang and its fuzzer/sanitizer runtime (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  if ! command -v clang++ >/dev/null 2>&1; then
    as_root apt-get install -y -qq --no-install-recommends clang >/dev/null
  fi
  if ! fuzzer_toolchain_ok; then
    # The libFuzzer/ASan runtimes are a separate package (Debian/Ubuntu: libclang-rt-<major>-dev).
    local major; major=$(clang++ -dumpversion | cut -d. -f1)
    as_root apt-get install -y -qq --no-install-recommends "libclang-rt-$major-dev" >/dev/null \
      || as_root apt-get install -y -qq --no-install-recommends "libclang-common-$major-dev" >/dev/null
  fi
  fuzzer_toolchain_ok || { echo "clang++ still cannot link -fsanitize=fuzzer,address,undefined" >&2; return 1; }
}

fuzz() {
  local seconds=$1 t0; t0=$(date +%s)
  ensure_clang
  step "build the fuzz targets with $(clang++ --version | head -1) (build/fuzz)"
  configure build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_COMPILER=clang -DPPOBR_BUILD_FUZZERS=ON -DPPOBR_BUILD_TESTS=OFF \
    -DPPOBR_INSTALL=OFF -DPPOBR_BUILD_C_SHARED=OFF
  cmake --build build/fuzz -j "$JOBS" --target fuzz_controller fuzz_deserialize fuzz_kernel

  local targets=(fuzz_controller fuzz_deserialize fuzz_kernel) summary=() failed=0
  mkdir -p build/fuzz/artifacts
  for t in "${targets[@]}"; do
    step "fuzz $t for ${seconds}s"
    local corpus=build/fuzz/corpus/$t log=build/fuzz/$t.log seeds=()
    mkdir -p "$corpus"
    # Regression inputs (former findings) are replayed first as part of the seed corpus.
    [[ -d cpp/fuzz/regressions/$t ]] && seeds=(cpp/fuzz/regressions/$t)
    local rc=0
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      "build/fuzz/cpp/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -max_len=4096 -artifact_prefix="build/fuzz/artifacts/$t-" \
        "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
    local execs eps units corpus_n cov
    # (each lookup may find nothing when a target stops early: never fatal here)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
    units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1 || true)
    cov=$({ grep -oE 'cov: [0-9]+' "$log" || true; } | tail -1 | cut -d' ' -f2)
    corpus_n=$(find "$corpus" -type f | wc -l)
    local corpus_kb; corpus_kb=$(du -sk "$corpus" | cut -f1)
    if [[ $rc -ne 0 ]]; then
      failed=1
      echo "FINDING in $t (exit $rc); log: $log" >&2
      { grep -vE '^#[0-9]+' "$log" || true; } | tail -60 >&2
      ls -1 build/fuzz/artifacts/"$t"-* 2>/dev/null >&2 || true
    fi
    summary+=("$(printf '%-17s %6ss %12s %10s %11s %8s %9s  %s' "$t" "$seconds" "${execs:-?}" "${eps:-?}" \
      "$corpus_n (${corpus_kb}K)" "${units:-?}" "${cov:-?}" "$([[ $rc -eq 0 ]] && echo 'no finding' || echo 'FINDING')")")
  done
  step "fuzzing summary"
  printf '%-17s %7s %12s %10s %11s %8s %9s  %s\n' target time executions exec/s corpus new_units coverage result
  printf '%s\n' "${summary[@]}"
  echo "fuzzing: $(elapsed "$t0")"
  return $failed
}

# ---------------------------------------------------------------------------------------------
T0=$(date +%s)
if [[ $RUN_NATIVE -eq 1 ]]; then
  install_and_examples
  sanitizer_tests
fi
if [[ -n "$FUZZ_SECONDS" ]]; then
  fuzz "$FUZZ_SECONDS"
fi
step "native checks passed ($(elapsed "$T0"))"
