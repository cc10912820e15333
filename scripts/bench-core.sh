#!/usr/bin/env bash
# Search and ask, this commit against a baseline commit, side by side in one run (README, "Benchmarks > Core").
# SciFact (5,183 abstracts, 12,641 chunks) with multilingual-e5-small vectors:
#  1. in process (kb-bench): keyword search over the 809 SciFact training queries, 3 runs, per-query medians;
#     hybrid search over the same queries, and the query embedding alone (the bound hybrid cannot beat);
#  2. the daemon: wrk on POST /v1/search, keyword at 16 and 64 connections, hybrid at 16 (30 s each);
#  3. `kb ask --json` end to end (extractive generator: retrieval, the answer check and the store, no model);
#  4. the daemon while `kb ingest` adds and embeds 2,000 new files in its database: keyword at 16 connections
#     for 60 s, daemon RSS every 10 s.
# usage: scripts/bench-core.sh [BASE]      BASE: a commit (default: the commit before the core stages, 1208722)
#   KB_BENCH_BASE_DIR=DIR  use an existing checkout of the baseline whose release kb and kb-bench are built
#   KB_BENCH_DB=FILE       a SciFact database with e5 vectors written by the baseline (skips its ≈ 12-minute ingest)
# Takes ≈ 15 minutes after the builds and the ingest. Installs wrk with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/setup.sh
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq wrk >&2; else sudo -n apt-get install -y -qq wrk >&2; fi
fi
shared=${KB_SHARED:-../shared}/data
out=$root/bench-out/core
mkdir -p "$out"

swift build -c release --product kb >&2
swift build -c release --product kb-bench >&2
base_dir=${KB_BENCH_BASE_DIR:-}
if [ -z "$base_dir" ]; then
  base_dir=$out/base
  if [ ! -d "$base_dir" ]; then git worktree add --detach "$base_dir" "${1:-1208722}" >&2; fi
  ln -sfn "$root/models" "$base_dir/models" 2>/dev/null || true
  (cd "$base_dir" && swift build -c release --product kb >&2 && swift build -c release --product kb-bench >&2)
fi
declare -A bin=([base]=$base_dir/.build/release [new]=$root/.build/release)
echo "baseline: $(git -C "$base_dir" log -1 --format='%h %s' | cut -c1-80)"
echo "this:     $(git log -1 --format='%h %s' | cut -c1-80)$(git diff --quiet || echo ' (with uncommitted changes)')"

# The corpus as files, 2,000 more for the background ingest, the queries, wrk scripts.
if [ ! -f "$out/queries.jsonl" ]; then
  mkdir -p "$out/docs" "$out/extra"
  python3 - "$shared/scifact-train" "$out" <<'PY'
import json, sys, os
src, out = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{src}/corpus.jsonl", encoding="utf-8")]
for d in rows:
    open(f"{out}/docs/{d['_id']}.txt", "w", encoding="utf-8").write(d["title"] + "\n\n" + d["text"] + "\n")
for i, d in enumerate(rows[:2000]):   # new files: the same abstracts, words reversed
    open(f"{out}/extra/extra-{i}.txt", "w", encoding="utf-8").write(d["title"] + "\n\n" + " ".join(reversed(d["text"].split())) + "\n")
queries = [json.loads(l) for l in open(f"{src}/queries.jsonl", encoding="utf-8")]
with open(f"{out}/queries.jsonl", "w", encoding="utf-8") as f:
    for q in queries: f.write(json.dumps({"_id": q["_id"], "text": q["text"]}) + "\n")
for mode in ("keyword", "hybrid"):
    bodies = ",\n".join(json.dumps(json.dumps({"query": q["text"], "k": 10, "mode": mode})) for q in queries)
    open(f"{out}/search-{mode}.lua", "w").write(f"""-- POST /v1/search ({mode}) with the SciFact training queries in turn
local bodies = {{
{bodies}
}}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/search", {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("KB_API_TOKEN")}}, bodies[i])
end
""")
PY
fi
if [ -n "${KB_BENCH_DB:-}" ]; then
  cp "$KB_BENCH_DB" "$out/base.sqlite"
elif [ ! -f "$out/scifact-e5.sqlite" ]; then
  echo "ingesting SciFact with the baseline (embeds 12,641 chunks; ≈ 12 minutes on 2 cores)" >&2
  KB_DB=$out/scifact-e5.sqlite "${bin[base]}/kb" ingest --quiet "$out/docs" >&2
  cp "$out/scifact-e5.sqlite" "$out/base.sqlite"
else
  cp "$out/scifact-e5.sqlite" "$out/base.sqlite"
fi
rm -f "$out"/*.sqlite-wal "$out"/*.sqlite-shm
cp "$out/base.sqlite" "$out/new.sqlite"   # this commit migrates its copy when it first opens it
export KB_GENERATOR=extractive KB_API_TOKEN=bench-token-0123456789abcdef KB_MODELS=${KB_MODELS:-$root/models}

echo
echo "== 1. In process: kb-bench search, 809 SciFact queries, top 10 with snippets (per-query medians; ms)"
echo "| build | mode | p50 | p90 | p99 | query embedding p50 | embeddings/s (1 thread) | embeddings/s (all cores) |"
echo "|---|---|---|---|---|---|---|---|"
for build in base new; do
  for mode in keyword hybrid; do
    runs=3; [ "$mode" = hybrid ] && runs=1
    "${bin[$build]}/kb-bench" search --db "$out/$build.sqlite" --queries "$out/queries.jsonl" --mode "$mode" --runs "$runs" > "$out/inproc-$build-$mode.json"
    python3 - "$build" "$mode" "$out/inproc-$build-$mode.json" <<'PY'
import json, sys
b, m, p = sys.argv[1:]
r = json.load(open(p))
f = lambda k: f"{r[k]:.2f}" if k in r else "–"
print(f"| {b} | {m} | {f('p50_ms')} | {f('p90_ms')} | {f('p99_ms')} | {f('embed_p50_ms')} | {f('embeddings_per_second')} | {f('embeddings_per_second_parallel')} |")
PY
  done
done

port=$((20000 + RANDOM % 20000))
pid=
ingest_pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$ingest_pid" ] && kill "$ingest_pid" 2>/dev/null; true; }
trap cleanup EXIT
start_daemon() {  # build
  KB_DB=$out/$1.sqlite "${bin[$1]}/kb" serve --port "$port" --watch 0 2> "$out/serve-$1.log" &
  pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  # Load the indexes and the model before measuring.
  curl -sf -H "Authorization: Bearer $KB_API_TOKEN" -H "Content-Type: application/json" \
    -d '{"query":"warm up","k":10,"mode":"hybrid"}' "http://127.0.0.1:$port/v1/search" >/dev/null
}
stop_daemon() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
rss() { ps -o rss= -p "$pid" | awk '{printf "%.0f", $1/1024}'; }
run() {  # build label mode connections seconds
  wrk -t2 -c"$4" -d"$5"s --timeout 10s --latency -s "$out/search-$3.lua" "http://127.0.0.1:$port" > "$out/wrk-$1-$2-$4.txt" 2>&1
  python3 - "$1" "$2" "$4" "$out/wrk-$1-$2-$4.txt" "$(rss)" <<'PY'
import re, sys
build, label, conns, path, rss = sys.argv[1:]
t = open(path).read()
def lat(p):
    m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", t)
    if not m: return "?"
    v, u = float(m.group(1)), m.group(2)
    return f"{v / 1000 if u == 'us' else v * 1000 if u == 's' else v:.1f}"
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
print(f"| {build} | {label} | {conns} | {float(rps):.0f} | {lat(50)} | {lat(99)} | {errors.group(1) if errors else 0}{' / ' + sock.group(1) if sock else ''} | {rss} |")
PY
}

echo
echo "== 2. The daemon: wrk, POST /v1/search, top 10 (30 s per row)"
echo "| build | load | connections | requests/s | p50 ms | p99 ms | errors | RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
for build in base new; do
  start_daemon $build
  run $build keyword keyword 16 30
  run $build keyword keyword 64 30
  run $build hybrid hybrid 16 30
  stop_daemon
done

echo
echo "== 3. kb ask --json end to end, extractive generator, 20 SciFact queries (median of timings.total, s)"
for build in base new; do
  head -20 "$out/queries.jsonl" | python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in sys.stdin]' | while read -r question; do
    KB_DB=$out/$build.sqlite "${bin[$build]}/kb" ask --json "$question" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["timings"]["total"])'
  done > "$out/ask-$build.txt"
  echo "  $build: median $(sort -g "$out/ask-$build.txt" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') s over $(wc -l < "$out/ask-$build.txt") questions"
done

echo
echo "== 4. The daemon while kb ingest adds and embeds 2,000 files in its database (keyword, 16 connections, 60 s)"
echo "| build | load | connections | requests/s | p50 ms | p99 ms | errors | RSS MiB at end |"
echo "|---|---|---|---|---|---|---|---|"
for build in base new; do
  start_daemon $build
  KB_DB=$out/$build.sqlite "${bin[$build]}/kb" ingest --quiet "$out/extra" > "$out/ingest-$build.log" 2>&1 &
  ingest_pid=$!
  sleep 5   # past parsing, into writing and embedding
  ( for _ in 1 2 3 4 5 6; do rss; echo; sleep 10; done ) > "$out/rss-$build.txt" &
  sampler=$!
  run $build "during ingest" keyword 16 60
  wait $sampler || true
  kill -INT "$ingest_pid" 2>/dev/null || true
  wait "$ingest_pid" 2>/dev/null || true
  ingest_pid=
  echo "  $build: daemon RSS MiB every 10 s: $(tr '\n' ' ' < "$out/rss-$build.txt"); ingest: $(grep -E "Ingested|Embedded|nterrupted" "$out/ingest-$build.log" | tr '\n' ' ' | cut -c1-160)"
  stop_daemon
done

