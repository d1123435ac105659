#!/usr/bin/env bash
# Shows that training on token shards holds O(batch x block) in memory whatever the corpus size:
# synthesises a text corpus of ~1.1 GB from the fortunes (each copy of each fortune file gets its
# copy number appended to every entry, so no two copies are equal), prepares it into >= 2 GB of
# shards (char tokenizer, uint16), prepares a ~10 MB corpus the same way, trains the same steps on
# both and prints both peak RSS (/usr/bin/time -v). Also measures prepare's throughput at 1 and 2
# threads on a ~200 MB slice. Not part of CTest (minutes, and gigabytes of disk).
#   bash scripts/big_corpus_rss.sh [path/to/moelab]
# Environment: WORK (default /tmp/moelab_big_corpus), BIG_COPIES (default 420 copies of the
# fortunes), SMALL_COPIES (4), STEPS (60), KEEP=1 keeps WORK afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
moelab="$(realpath "${1:-build/moelab}")"
work="${WORK:-/tmp/moelab_big_corpus}"
fortunes=/usr/share/games/fortunes
[ -d "$fortunes" ] || { echo "needs the Debian fortunes package ($fortunes)"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# N copies of each fortune file into DIR/<file> (plus the .dat that marks it as fortunes)
synthesise() {
  python3 - "$fortunes" "$1" "$2" <<'PY'
import os, sys
src, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
for name in sorted(os.listdir(src)):
    path = os.path.join(src, name)
    if name.endswith((".dat", ".u8")) or name.startswith(".") or os.path.islink(path) or not os.path.isfile(path):
        continue
    entries = [e for e in open(path, encoding="utf-8").read().split("\n%\n") if e.strip()]
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        for k in range(copies):
            f.write("".join(f"{e.rstrip()} ({k})\n%\n" for e in entries))
    open(os.path.join(out, name + ".dat"), "w").close()
PY
}

peak_rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }

echo "== synthesising text: ${BIG_COPIES:-420} copies (big), ${SMALL_COPIES:-4} copies (small), 80 copies (throughput)"
synthesise "$work/big_text" "${BIG_COPIES:-420}"
synthesise "$work/small_text" "${SMALL_COPIES:-4}"
synthesise "$work/slice_text" 80
du -sh --apparent-size "$work/big_text" "$work/small_text" "$work/slice_text"

echo "== prepare throughput on the slice"
for threads in 1 2; do
  "$moelab" --threads "$threads" prepare "$work/slice_text" --tokenizer char --out "$work/slice_$threads" 2>/dev/null
done
cmp "$work/slice_1/slice_text_train_000001.bin" "$work/slice_2/slice_text_train_000001.bin" && echo "1 and 2 threads: the same shards"
rm -rf "$work/slice_text" "$work/slice_1" "$work/slice_2"

echo "== prepare the big corpus (peak RSS of prepare itself below)"
/usr/bin/time -v "$moelab" --threads 2 prepare "$work/big_text" --tokenizer char --out "$work/big" 2>"$work/prepare_big.time"
echo "prepare peak RSS: $(peak_rss_mb "$work/prepare_big.time") MB"
rm -rf "$work/big_text"
"$moelab" --threads 2 prepare "$work/small_text" --tokenizer "$work/big/tokenizer.json" --out "$work/small" 2>/dev/null
du -sh --apparent-size "$work/big" "$work/small"

echo "== train ${STEPS:-60} steps on each (same config, same seed, 2 threads)"
for corpus in small big; do
  /usr/bin/time -v "$moelab" --threads 2 train configs/default.json --set data.train="$work/$corpus" \
    --set train.max_iters="${STEPS:-60}" --set train.eval_interval=30 --set train.eval_iters=5 \
    --set train.log_interval=10 --set train.checkpoint_interval=0 --set train.out_dir="$work/run_$corpus" \
    >"$work/train_$corpus.log" 2>"$work/train_$corpus.time"
  grep -h "train /" "$work/train_$corpus.log" "$work/train_$corpus.time" || true
  echo "$corpus: peak RSS $(peak_rss_mb "$work/train_$corpus.time") MB (/usr/bin/time), last rss_mb in metrics.jsonl:" \
       "$(grep '"rss_mb"' "$work/run_$corpus/metrics.jsonl" | tail -1 | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rss_mb"], 1))')"
done
small=$(peak_rss_mb "$work/train_small.time") big=$(peak_rss_mb "$work/train_big.time")
python3 -c "import sys; s, b = float(sys.argv[1]), float(sys.argv[2]); print(f'big / small peak RSS: {b / s:.3f} ({(b / s - 1) * 100:+.1f}%)')" "$small" "$big"
