#!/usr/bin/env bash
# Fuzzes each target in tests/fuzz for a bounded time with libFuzzer (clang, ASan+UBSan):
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET (default 60)] [TARGET ...]   (targets: job_parser cdf_header ...)
# Builds only the fuzz targets into build-fuzz. Inputs found are kept in build-fuzz/fuzz/<target>/
# (grown corpus; the checked-in seeds in tests/fuzz/corpus/<target>/ are never written). A crash
# fails the script and leaves crash-* there: add it to tests/fuzz/corpus/<target>/ with the fix,
# so every build replays it (ctest -L fuzz).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/tests/fuzz/fuzz_*.cpp; do n="$(basename "$f" .cpp)"; targets+=("${n#fuzz_}"); done
fi
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for t in "${targets[@]}"; do
  work="$build/fuzz/$t"
  mkdir -p "$work/corpus"
  dict=()
  [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  log="$work/last.log"
  # -timeout: one input taking longer is a hang; -rss_limit_mb: a runaway allocation is a bug too.
  if "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" "$work/corpus" "$root/tests/fuzz/corpus/$t" \
       >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)"
    echo "fuzz $t: ok, $runs executions in ${seconds} s, $cov, corpus $(ls "$work/corpus" | wc -l) inputs"
  else
    echo "fuzz $t: FAILED; inputs: $(ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | tr '\n' ' ')"
    grep -m1 -A25 -E '^==[0-9]+==ERROR|fuzz check failed|uncaught exception|runtime error|deadly signal' "$log" || tail -30 "$log"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (details in $build/fuzz/<target>/last.log)"
  exit 1
fi
