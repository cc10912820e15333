#!/usr/bin/env bash
# Embedding throughput (passages per CPU-second) of kb's native encoders against Python references,
# on the same 1,000 SciFact passages, in one run; then exact vector-search latency for 10k/100k/1M
# random 384-d vectors. A benchmark, not a test. Needs ../shared/data and sentence-transformers
# (pip install sentence-transformers; CPU torch).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${KB_SHARED:-../shared}
scripts/setup.sh
swift build -c release --product kb-bench >&2
bench=.build/release/kb-bench
out=$PWD/bench-out
mkdir -p "$out"
python3 - "$shared/data/scifact-train/corpus.jsonl" "$out/passages-1000.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
        if i == 1000: break
        d = json.loads(line)
        out.write(json.dumps({"text": d["title"] + "\n" + d["text"]}, ensure_ascii=False) + "\n")
PY
python3 -c "import sentence_transformers" 2>/dev/null || python3 -m pip install -q sentence-transformers >&2

echo "| model | engine | passages/CPU-s | passages/s (wall) | CPU s |"
echo "|---|---|---|---|---|"
for model in all-minilm-l6-v2 multilingual-e5-small; do
  kbjson=$("$bench" embed --model "$model" --passages "$out/passages-1000.jsonl")
  inherit=$(KB_BLAS_CORE=inherit "$bench" embed --model "$model" --passages "$out/passages-1000.jsonl")
  location=models/$model
  [ "$model" = multilingual-e5-small ] && location=models/$model/e5-small-q4.bin
  refjson=$(python3 Benchmarks/reference/embed_speed.py "$model" "$location" "$out/passages-1000.jsonl")
  python3 - "$kbjson" "$refjson" "$inherit" "${OPENBLAS_CORETYPE:-detected}" <<'PY'
import json, sys
kb, ref, inherit = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {kb['model']} | kb (Swift, OpenBLAS, KB_BLAS_CORE=auto) | {kb['passages_per_cpu_second']:.2f} | {kb['passages_per_second']:.2f} | {kb['cpu_seconds']:.1f} |")
print(f"| {kb['model']} | kb (Swift, OpenBLAS, KB_BLAS_CORE=inherit: {sys.argv[4]}) | {inherit['passages_per_cpu_second']:.2f} | {inherit['passages_per_second']:.2f} | {inherit['cpu_seconds']:.1f} |")
print(f"| {ref['model']} | {ref['engine']} | {ref['passages_per_cpu_second']:.2f} | {ref['passages_per_second']:.2f} | {ref['cpu_seconds']:.1f} |")
print(f"| {kb['model']} | **ratio kb / reference** | **{kb['passages_per_cpu_second'] / ref['passages_per_cpu_second']:.2f}×** (inherit: {inherit['passages_per_cpu_second'] / ref['passages_per_cpu_second']:.2f}×) | | |")
PY
done
echo
echo "| vectors (384-d) | p50 | p99 | peak RSS |"
echo "|---|---|---|---|"
for count in 10000 100000 1000000; do
  "$bench" vectors --count $count --dimension 384 --queries 200 | python3 -c "
import json, sys; r = json.load(sys.stdin)
print(f\"| {r['vectors']:,} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['peak_rss_mib']:.0f} MiB |\")"
done
