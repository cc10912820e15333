#!/usr/bin/env bash
# PostgreSQL against SQLite (README, "Benchmarks > PostgreSQL"):
#  1. hybrid search in process at KB_BENCH_CHUNKS chunks (default 100000): SQLite (exact vectors in memory)
#     against PostgreSQL (pgvector HNSW), p50/p90/p99 per mode, and HNSW recall@10 against exact search on the
#     same 100 SciFact queries (kb-bench scale: real text and vectors recombined, see Benchmarks/kb-bench/Scale.swift);
#  2. POST /v1/search with wrk (16 connections, 30 s): one daemon on SQLite, one on PostgreSQL, two on the same
#     PostgreSQL (8 connections each, at the same time), SciFact as 5,183 files, keyword search;
#  3. ingest throughput of the same 1,000 SciFact files into SQLite and PostgreSQL, without embeddings, and of
#     200 of them with multilingual-e5-small.
# usage: scripts/bench-postgres.sh [scale|serve|ingest ...]   (all three by default; ≈ 25 minutes at 100k chunks)
# The cluster is scripts/postgres.sh's on port 54329; the kbbench_* databases are left there for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq wrk >&2; else sudo -n apt-get install -y -qq wrk >&2; fi
fi
swift build -c release --product kb >&2
swift build -c release --product kb-bench >&2
kb=$PWD/.build/release/kb
shared=${KB_SHARED:-../shared}/data
out=$PWD/bench-out/postgres
mkdir -p "$out"
base=$(scripts/postgres.sh start 54329 | tail -n 1)
base=${base%/*}
parts=${*:-scale serve ingest}

for part in $parts; do
case $part in
scale)
  chunks=${KB_BENCH_CHUNKS:-100000}
  rm -f "$out/scale-$chunks.sqlite"*
  db="kbbench_scale_$chunks"
  echo "== hybrid search at $chunks chunks (in process)"
  .build/release/kb-bench scale --chunks "$chunks" --corpus "$shared/scifact-train/corpus.jsonl" \
    --queries "$shared/scifact-train/queries.jsonl" --sqlite "$out/scale-$chunks.sqlite" --postgres "$base/${db}_$RANDOM" \
    --base 500 --probes 100 | tee "$out/scale-$chunks.json"
  ;;
serve)
  echo "== POST /v1/search, wrk, 16 connections, 30 s"
  rm -rf "$out/docs" && mkdir -p "$out/docs"
  python3 - "$shared/scifact-train/corpus.jsonl" "$out/docs" "$shared/scifact-train/queries.jsonl" "$out/search.lua" <<'PY'
import json, sys, os
corpus, docs, queries, lua = sys.argv[1:]
for line in open(corpus, encoding="utf-8"):
    d = json.loads(line)
    with open(os.path.join(docs, d["_id"] + ".txt"), "w", encoding="utf-8") as f:
        f.write(d["title"] + "\n\n" + d["text"] + "\n")
qs = [json.loads(l)["text"] for l in open(queries, encoding="utf-8")][:200]
bodies = ",\n".join(json.dumps(json.dumps({"query": q, "k": 10})) for q in qs)
open(lua, "w").write(f"""local bodies = {{
{bodies}
}}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/search", {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("KB_API_TOKEN")}}, bodies[i])
end
""")
PY
  export KB_API_TOKEN=bench-token-0123456789abcdef KB_GENERATOR=extractive
  pg="$base/kbbench_serve_$RANDOM"
  rm -f "$out/serve.sqlite"*
  "$kb" ingest --quiet --no-embed --db "$out/serve.sqlite" "$out/docs" >&2
  "$kb" ingest --quiet --no-embed --db "$pg" "$out/docs" >&2
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
  start_daemon() {  # database → sets $port; the daemon is a child of this shell
    port=$((20000 + RANDOM % 20000))
    "$kb" serve --db "$1" --port "$port" --watch 0 2>> "$out/serve.log" &
    pids+=($!)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  }
  wrk_run() {  # connections port → "requests/s p50 p99 errors"
    wrk -t1 -c"$1" -d30s --timeout 10s --latency -s "$out/search.lua" "http://127.0.0.1:$2" > "$out/wrk-$2.txt" 2>&1
    python3 - "$out/wrk-$2.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def lat(p):
    m = re.search(r"\s" + str(p) + r"%\s+([\d.]+)(us|ms|s)", t)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(f"{rps:.1f} {lat(50):.1f} {lat(99):.1f} {errors.group(1) if errors else 0}")
PY
  }
  half() { python3 -c "import sys; print(round(sum(map(float, sys.argv[1:])) / 2, 1))" "$@"; }
  echo "| daemons | store | requests/s | per core | p50 ms | p99 ms | errors |"
  echo "|---|---|---|---|---|---|---|"
  start_daemon "$out/serve.sqlite"
  wrk_run 16 "$port" > "$out/one.txt"; read -r rps p50 p99 errors < "$out/one.txt"
  echo "| 1 | SQLite | $rps | $(half "$rps") | $p50 | $p99 | $errors |"
  kill "${pids[@]}"; pids=()
  start_daemon "$pg"; first=$port
  wrk_run 16 "$first" > "$out/one.txt"; read -r rps p50 p99 errors < "$out/one.txt"
  echo "| 1 | PostgreSQL | $rps | $(half "$rps") | $p50 | $p99 | $errors |"
  start_daemon "$pg"; second=$port
  wrk_run 8 "$first" > "$out/two-a.txt" &
  a=$!
  wrk_run 8 "$second" > "$out/two-b.txt"
  wait $a
  read -r rps_a p50_a p99_a errors_a < "$out/two-a.txt"
  read -r rps_b p50_b p99_b errors_b < "$out/two-b.txt"
  total=$(python3 -c "print(round($rps_a + $rps_b, 1))")
  echo "| 2 | PostgreSQL | $total ($rps_a + $rps_b) | $(half "$rps_a" "$rps_b") | $p50_a / $p50_b | $p99_a / $p99_b | $((errors_a + errors_b)) |"
  kill "${pids[@]}"; pids=()
  ;;
ingest)
  echo "== ingest throughput, the same files into each store"
  rm -rf "$out/ingest" && mkdir -p "$out/ingest/all" "$out/ingest/embed"
  python3 - "$shared/scifact-train/corpus.jsonl" "$out/ingest" <<'PY'
import json, sys, os
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][:1000]
for i, d in enumerate(rows):
    for folder in (["all", "embed"] if i < 200 else ["all"]):
        with open(os.path.join(sys.argv[2], folder, d["_id"] + ".txt"), "w", encoding="utf-8") as f:
            f.write(d["title"] + "\n\n" + d["text"] + "\n")
PY
  echo "| files | embeddings | store | seconds | files/s |"
  echo "|---|---|---|---|---|"
  for run in "all --no-embed" "embed "; do
    set -- $run
    folder=$1; flag=${2:-}
    files=$(ls "$out/ingest/$folder" | wc -l)
    for store in sqlite postgres; do
      if [ $store = sqlite ]; then db="$out/ingest-$folder.sqlite"; rm -f "$db"*; else db="$base/kbbench_ingest_${folder}_$RANDOM"; fi
      start=$(date +%s.%N)
      "$kb" ingest --quiet $flag --db "$db" "$out/ingest/$folder" >&2
      seconds=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
      echo "| $files | $([ -z "$flag" ] && echo multilingual-e5-small || echo none) | $store | $seconds | $(python3 -c "print(round($files / $seconds, 1))") |"
    done
  done
  ;;
*) echo "bench-postgres: unknown part $part (scale, serve, ingest)" >&2; exit 64 ;;
esac
done
