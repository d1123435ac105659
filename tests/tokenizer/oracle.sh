#!/usr/bin/env bash
# moelab's byte-level BPE against the real clients, id for id (usage: oracle.sh MOELAB):
#   1. a 4k and a 1k vocabulary learned by `moelab tokenizer train`, written as tokenizer.json and
#      loaded by Hugging Face tokenizers.js (npm @huggingface/tokenizers);
#   2. GPT-2's vocabulary (50257) read from npm's js-tiktoken, against js-tiktoken itself;
# on the fortunes files, tinyshakespeare and a hostile Unicode sample (hostile_sample.sh). The
# clients also decode their ids back to the text. The npm packages are installed by
# tests/tokenizer/install.sh (.ci/run runs it). Skips (77) without node or the packages, except under
# CI=true, where that fails.
set -euo pipefail
moelab="$1"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
skip() {
  if [ "${CI:-}" = "true" ]; then echo "FAIL (CI=true: this test must run): $1"; exit 1; fi
  echo "SKIP: $1"; exit 77
}
command -v node > /dev/null || skip "node is not installed (apt-get install nodejs npm)"
[ -d "$here/node_modules/@huggingface/tokenizers" ] && [ -d "$here/node_modules/js-tiktoken" ] ||
  skip "the npm oracles are not installed (bash tests/tokenizer/install.sh)"
shakespeare=""
for c in "$root/../shared/data/tinyshakespeare.txt" /work/shared/data/tinyshakespeare.txt; do
  if [ -f "$c" ]; then shakespeare="$c"; break; fi
done
[ -n "$shakespeare" ] || skip "tinyshakespeare.txt is not in ../shared/data"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bash "$here/hostile_sample.sh" "$work/hostile.txt"
# fortune files are bytes; the clients read UTF-8 text, so only the valid-UTF-8 files are compared
fortunes=()
skipped=0
for f in /usr/share/games/fortunes/*; do
  case "$f" in *.dat|*.u8) continue ;; esac
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  if iconv -f UTF-8 -t UTF-8 "$f" > /dev/null 2>&1; then fortunes+=("$f"); else skipped=$((skipped + 1)); fi
done
((${#fortunes[@]} >= 10)) || { echo "FAIL: only ${#fortunes[@]} fortune files are valid UTF-8"; exit 1; }
cat "${fortunes[@]}" > "$work/fortunes.txt"
inputs=("$work/fortunes.txt" "$shakespeare" "$work/hostile.txt")
failed=0
compare() {  # name, moelab's --tokenizer, oracle arguments...
  local name="$1" spec="$2"; shift 2
  "$moelab" tokenizer encode --tokenizer "$spec" "${inputs[@]}" > "$work/moelab.ids"
  node "$here/oracle.mjs" "$@" "${inputs[@]}" > "$work/oracle.ids"
  local i=0
  while IFS= read -r mine && IFS= read -r theirs <&3; do
    local n
    n=$(printf '%s' "$mine" | tr -cd ',' | wc -c)
    if [ "$mine" = "$theirs" ]; then
      echo "ok   $name on $(basename "${inputs[$i]}"): $((n + 1)) ids identical"
    else
      local at
      at=$(cmp <(printf '%s' "$mine" | tr ',' '\n') <(printf '%s' "$theirs" | tr ',' '\n') 2>&1 | awk '{print $NF}' || true)
      echo "FAIL $name on $(basename "${inputs[$i]}"): ids differ from id number ${at:-?} on"
      failed=1
    fi
    i=$((i + 1))
  done < "$work/moelab.ids" 3< "$work/oracle.ids"
  [ "$i" -eq "${#inputs[@]}" ] || { echo "FAIL $name: $i of ${#inputs[@]} outputs"; failed=1; }
}
"$moelab" tokenizer train "${fortunes[@]}" --format text --vocab-size 4096 --out "$work/fortunes4k.json" | head -2
"$moelab" tokenizer train "$shakespeare" --vocab-size 1024 --out "$work/shakespeare1k.json" | head -2
compare "bpe-4k(fortunes) vs tokenizers.js" "$work/fortunes4k.json" hf "$work/fortunes4k.json"
compare "bpe-1k(shakespeare) vs tokenizers.js" "$work/shakespeare1k.json" hf "$work/shakespeare1k.json"
compare "gpt2 vs js-tiktoken" "$here/node_modules/js-tiktoken/dist/ranks/gpt2.js" gpt2
echo "($skipped fortune file(s) are not valid UTF-8 and were left out of the comparison)"
exit "$failed"
