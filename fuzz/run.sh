#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang-14, ASan + UBSan) and runs each for SECONDS
# (default 60) on a scratch copy of its seed corpus (fuzz/corpus/ is never modified).
# Exits non-zero on any crash, sanitizer report, leak, timeout or out-of-memory; the reproducer
# is kept in build-fuzz/artifacts/<target>/ and its path printed. Run from anywhere:
#   bash fuzz/run.sh [SECONDS_EACH=60]
# Reproduce a finding:  build-fuzz/fuzz/fuzz_config build-fuzz/artifacts/fuzz_config/crash-...
# JOBS (default: all cores) sets the build's parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: bash fuzz/run.sh [SECONDS_EACH]" >&2; exit 2; }

# clang-14 + its runtime (libFuzzer, sanitizers) + libomp (clang's OpenMP); the rest comes from scripts/setup.sh
packages=(clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fuzz: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

build=build-fuzz
mkdir -p "$build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DMOELAB_FUZZ=ON -DMOELAB_BUILD_TESTS=OFF > "$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }
fi
start=$(date +%s)
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target fuzz_config fuzz_safetensors fuzz_metrics fuzz_tokenizer > "$build/build.log" 2>&1 ||
  { tail -50 "$build/build.log"; exit 1; }
echo "fuzz: build-fuzz built ($(($(date +%s) - start)) s)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
# target, corpus folder, max input length
for spec in "fuzz_config config 16384" "fuzz_safetensors safetensors 8192" "fuzz_metrics metrics 16384" \
            "fuzz_tokenizer tokenizer 8192"; do
  read -r target corpus max_len <<< "$spec"
  mkdir -p "$work/$corpus" "$build/artifacts/$target"
  cp fuzz/corpus/"$corpus"/* "$work/$corpus/"
  log="$build/artifacts/$target.log"
  rc=0
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/fuzz/$target" "$work/$corpus" -dict="fuzz/$corpus.dict" \
      -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$build/artifacts/$target/" -print_final_stats=1 > "$log" 2>&1 || rc=$?
  done_line="$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)"
  if [ "$rc" -ne 0 ] || [ -z "$done_line" ]; then
    status=1
    echo "fuzz: $target FAILED (exit $rc); last lines of $log:"
    tail -60 "$log"
    unit="$(grep -o -m1 'Test unit written to .*' "$log" | sed 's/^Test unit written to //' || true)"
    echo "fuzz: $target: reproducer: ${unit:-none written (see $log)}"
  else
    echo "fuzz: $target: $done_line ($(grep -c . <(ls "$work/$corpus")) inputs in the corpus)"
  fi
done
exit "$status"
