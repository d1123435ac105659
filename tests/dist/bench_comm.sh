#!/usr/bin/env bash
# `moelab bench comm` on 2 processes: a row per requested size, all-reduce and all-to-all times and
# bus bandwidths that are positive numbers, and the closing JSON line with 2 processes and the fit;
# on one process it runs too (nothing crosses a link: bandwidth 0). Usage: bench_comm.sh MOELAB
set -euo pipefail
moelab="$1"
source "$(dirname "$0")/../robustness/common.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
mpirun -np 2 "$moelab" bench comm --sizes 64 65536 --repeats 3 > "$work/two.txt" 2>&1 || fail "$(tail -5 "$work/two.txt")"
cat "$work/two.txt"
grep -q "2 processes" "$work/two.txt" || fail "the header does not say 2 processes"
for size in 64 65536; do
  row=$(awk -v s="$size" '$1 == s' "$work/two.txt")
  [ -n "$row" ] || fail "no row for $size bytes"
  # bytes, allreduce us, bus GB/s, alltoall us, bus GB/s: all positive
  echo "$row" | awk '{ for (i = 2; i <= 5; ++i) if (!($i > 0)) exit 1 }' || fail "a non-positive figure: $row"
done
json=$(grep '^{' "$work/two.txt")
echo "$json" | grep -q '"processes": 2,' || fail "closing line: $json"
echo "$json" | grep -Eq '"allreduce_bus_gb_s": [0-9.]*[1-9]' || fail "no all-reduce bandwidth: $json"
"$moelab" bench comm --sizes 64 --repeats 1 > "$work/one.txt" 2>&1 || fail "one process: $(tail -3 "$work/one.txt")"
grep -q '"processes": 1,' "$work/one.txt" || fail "one process: $(cat "$work/one.txt")"
"$moelab" bench comm --sizes 2 > "$work/bad.txt" 2>&1 && fail "--sizes 2 was accepted"
grep -q "sizes" "$work/bad.txt" || fail "--sizes 2: the error does not name the option: $(cat "$work/bad.txt")"
echo "bench comm: ok"
