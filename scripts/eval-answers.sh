#!/usr/bin/env bash
# Answers before and after repair, and retrieval across languages. A benchmark, not a test (tens of minutes on
# 2 cores). Databases stay in bench-out/ so that both runs of a set share one ingest.
#   scripts/eval-answers.sh [sq2|cmrc|crosslang ...]
#     sq2        kb eval qa on Benchmarks/sets/scifact-squad2 (110 English questions over SciFact abstracts,
#                half of them plausible but unanswerable), repair off (KB_REPAIR_ATTEMPTS=0) and on
#     cmrc       kb eval qa on the first 200 CMRC 2018 trial questions, 50+ withheld, repair off and on
#     crosslang  kb eval retrieval on Benchmarks/sets/crosslang (124 questions in the other language), every
#                mode, and hybrid with each fusion
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${KB_SHARED:-../shared}
[ -d "$shared/data" ] || { echo "eval-answers: $shared/data is missing (set KB_SHARED)" >&2; exit 66; }
scripts/setup.sh >&2
swift build -c release --product kb >&2
kb=$PWD/.build/release/kb
out=$PWD/bench-out
mkdir -p "$out"
qa() {   # name squad-file extra-args...
  local name=$1 file=$2; shift 2
  for repair in 0 2; do
    echo "== $name, repair attempts $repair" >&2
    KB_REPAIR_ATTEMPTS=$repair "$kb" eval qa --db "$out/qa-$name.sqlite" --squad "$file" "$@" --per-question --json \
      > "$out/qa-$name-repair$repair.json"
    python3 - "$out/qa-$name-repair$repair.json" "$name" "$repair" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rescues = ", ".join(f"{r['strategy']} {r['rescued']} ({r['wrong']} wrong)" for r in m["rescues"]) or "—"
print(f"| {sys.argv[2]} | {'on' if sys.argv[3] != '0' else 'off'} | {m['f1_answered']*100:.1f} | {m['abstention_answerable']*100:.1f} % "
      f"| {m['abstention_unanswerable']*100:.1f} % | {m['rescue_rate']*100:.0f} % of {m['initial_rejected']} | {rescues} "
      f"| {m['answered_latency_p50']:.2f} / {m['answered_latency_p90']:.2f} s | {m['latency_p50']:.2f} / {m['latency_p90']:.2f} s |")
PY
  done
}
for set in ${*:-sq2 crosslang cmrc}; do
  case $set in
    sq2)
      python3 Benchmarks/sets/scifact-squad2/build.py "$shared/data" "$out/scifact-squad2.json" >&2
      qa sq2 "$out/scifact-squad2.json" ;;
    cmrc)
      qa cmrc "$shared/data/cmrc2018-trial/cmrc2018_trial.squad-style.json" --limit 200 --withhold 50 ;;
    crosslang)
      python3 Benchmarks/sets/crosslang/build.py "$shared/data" "$out/crosslang" >&2
      for fusion in rrf adaptive; do
        echo "== crosslang, fusion $fusion" >&2
        KB_FUSION=$fusion "$kb" eval retrieval --db "$out/crosslang.sqlite" --mode all --json \
          --corpus "$out/crosslang/corpus.jsonl" --queries "$out/crosslang/queries.jsonl" --qrels "$out/crosslang/qrels/test.tsv" \
          > "$out/crosslang-$fusion.json"
        python3 - "$out/crosslang-$fusion.json" "$out/crosslang/queries.jsonl" "$fusion" <<'PY'
import json, sys, math
data = json.load(open(sys.argv[1]))
direction = {}
for line in open(sys.argv[2], encoding="utf-8"):
    q = json.loads(line)
    direction[q["_id"]] = q["metadata"]["direction"]
for r in data["results"]:
    if r["mode"] == "hybrid" or sys.argv[3] == "rrf":
        for d in ("en->zh", "zh->en"):
            rows = [p for p in r["per_query"] if direction.get(p["id"]) == d]
            n = len(rows) or 1
            name = r["mode"] + (f" ({sys.argv[3]})" if r["mode"] == "hybrid" else "")
            print(f"| {name} | {d} | {sum(p['recall@5'] for p in rows)/n:.3f} | {sum(p['ndcg@10'] for p in rows)/n:.3f} |")
PY
      done ;;
    *) echo "eval-answers: unknown set $set" >&2; exit 64 ;;
  esac
done
