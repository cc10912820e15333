#!/usr/bin/env bash
# Retrieval quality: `kb eval retrieval` on ../shared/data (SciFact train, CMRC 2018 trial) for every
# mode and both local models. A benchmark, not a test: it embeds ~13k passages per model (tens of minutes
# on 2 cores). Databases stay in bench-out/ so a re-run reuses what is ingested and embedded.
#   scripts/eval.sh [scifact|cmrc ...]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${KB_SHARED:-../shared}
scripts/setup.sh
swift build -c release --product kb >&2
kb=$PWD/.build/release/kb
out=$PWD/bench-out
mkdir -p "$out"
sets=${*:-cmrc scifact}
for set in $sets; do
  case $set in
    scifact) dir=$shared/data/scifact-train; qrels=$dir/qrels/train.tsv ;;
    cmrc) dir=$shared/data/cmrc2018-trial/beir; qrels=$(ls "$dir"/qrels/*.tsv | head -1) ;;
    *) echo "eval: unknown set $set" >&2; exit 64 ;;
  esac
  for model in all-minilm-l6-v2 multilingual-e5-small; do
    echo "== $set, $model" >&2
    "$kb" eval retrieval --db "$out/eval-$set-$model.sqlite" --embedding-model "$model" --mode all --json \
      --corpus "$dir/corpus.jsonl" --queries "$dir/queries.jsonl" --qrels "$qrels" > "$out/eval-$set-$model.json"
    python3 - "$out/eval-$set-$model.json" "$set" "$model" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for r in data["results"]:
    print(f"| {sys.argv[2]} | {r['mode']} | {sys.argv[3] if r['mode'] != 'keyword' else '—'} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | {r['recall@100']:.4f} | {r['mrr@10']:.4f} |")
PY
  done
done
