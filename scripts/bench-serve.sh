#!/usr/bin/env bash
# Load on the daemon (README, "Benchmarks > The daemon"):
#  1. wrk on POST /v1/search at 16 and 64 connections for 30 s each, against SciFact written out as 5,183 files
#     (12,641 chunks, keyword search: no vectors), daemon RSS before and after;
#  2. the same while `kb ingest` adds 2,000 more files to the same database in another process and embeds
#     every chunk (interrupted after the two runs);
#  3. POST /v1/ask from 4 concurrent streaming clients with the in-process model (30 CMRC paragraphs, embedded):
#     queueing, time to first token, errors.
# usage: scripts/bench-serve.sh            (≈ 5 minutes; installs wrk with apt when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq wrk >&2; else sudo -n apt-get install -y -qq wrk >&2; fi
fi
swift build -c release --product kb >&2
kb=$PWD/.build/release/kb
shared=${KB_SHARED:-../shared}/data
out=$PWD/bench-out/serve
rm -rf "$out" && mkdir -p "$out/docs" "$out/extra"
python3 - "$shared/scifact-train/corpus.jsonl" "$out/docs" "$out/extra" "$shared/scifact-train/queries.jsonl" "$out/search.lua" <<'PY'
import json, sys, os
corpus, docs, extra, queries, lua = sys.argv[1:]
rows = [json.loads(l) for l in open(corpus, encoding="utf-8")]
for d in rows:
    with open(os.path.join(docs, d["_id"] + ".txt"), "w", encoding="utf-8") as f:
        f.write(d["title"] + "\n\n" + d["text"] + "\n")
for i, d in enumerate(rows[:2000]):   # the background ingest: the same abstracts, reversed, as new files
    with open(os.path.join(extra, f"extra-{i}.txt"), "w", encoding="utf-8") as f:
        f.write(d["title"] + "\n\n" + " ".join(reversed(d["text"].split())) + "\n")
qs = [json.loads(l)["text"] for l in open(queries, encoding="utf-8")][:200]
bodies = ",\n".join(json.dumps(json.dumps({"query": q, "k": 10})) for q in qs)
open(lua, "w").write(f"""-- POST /v1/search with SciFact queries in turn
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
export KB_DB=$out/kb.sqlite KB_API_TOKEN=bench-token-0123456789abcdef KB_GENERATOR=extractive
"$kb" ingest --quiet --no-embed "$out/docs" >&2
port=$((20000 + RANDOM % 20000))
"$kb" serve --port "$port" --watch 0 2> "$out/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
rss() { ps -o rss= -p "$pid" | awk '{printf "%.0f MiB", $1/1024}'; }
echo "chunks: $("$kb" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])'); daemon RSS at start: $(rss)"
run() {  # label connections
  local result
  result=$(wrk -t2 -c"$2" -d30s --timeout 10s --latency -s "$out/search.lua" "http://127.0.0.1:$port" 2>&1)
  echo "$result" > "$out/wrk-$1-$2.txt"
  python3 - "$1" "$2" "$out/wrk-$1-$2.txt" "$(rss)" <<'PY'
import re, sys
label, conns, path, rss = sys.argv[1:]
t = open(path).read()
def lat(p):
    m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", t)
    if not m: return "?"
    v, u = float(m.group(1)), m.group(2)
    return f"{v / 1000 if u == 'us' else v * 1000 if u == 's' else v:.1f} ms"
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
total = re.search(r"(\d+) requests in", t).group(1)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
print(f"| {label} | {conns} | {float(rps):.0f} | {lat(50)} | {lat(99)} | {total} | {errors.group(1) if errors else 0}{' / ' + sock.group(1) if sock else ''} | {rss} |")
PY
}
echo "| load | connections | requests/s | p50 | p99 | requests | errors | RSS after |"
echo "|---|---|---|---|---|---|---|---|"
run search 16
run search 64
# The background ingest also embeds every chunk (the 12,641 already there and the new ones), which keeps it
# writing for the whole minute; it is interrupted (SIGINT, as Ctrl-C) after the two runs.
"$kb" ingest --quiet "$out/extra" > "$out/ingest.log" 2>&1 &
ingest_pid=$!
run "search during ingest" 16
run "search during ingest" 64
kill -INT $ingest_pid 2>/dev/null || true
wait $ingest_pid || true
echo "background ingest: $(grep -E "Ingested|Embedded|interrupted" "$out/ingest.log" | tr '\n' ' ')"
kill $pid; wait $pid 2>/dev/null || true
[ "${KB_BENCH_SKIP_ASK:-}" = 1 ] && exit 0

echo
echo "== /v1/ask, 4 concurrent streaming clients, in-process qwen2.5-coder-0.5b (30 CMRC paragraphs, 8 of their questions)"
mkdir -p "$out/cmrc"
python3 - "$shared/cmrc2018-trial/cmrc2018_trial.squad-style.json" "$out/cmrc" "$out/questions.json" <<'PY'
import json, sys, os
data = json.load(open(sys.argv[1], encoding="utf-8"))["data"]
paragraphs = [p for a in data for p in a["paragraphs"]][:30]
for i, p in enumerate(paragraphs):
    open(os.path.join(sys.argv[2], f"p{i:02d}.txt"), "w", encoding="utf-8").write(p["context"] + "\n")
qs = [q["question"] for p in paragraphs[::4] for q in p["qas"][:1]][:8]
json.dump(qs, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False)
PY
export KB_DB=$out/ask.sqlite KB_GENERATOR=llama KB_THREADS=2
"$kb" ingest --quiet "$out/cmrc" >&2
"$kb" serve --port "$port" --watch 0 2> "$out/serve-llama.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$port" "$KB_API_TOKEN" "$out/questions.json" <<'PY'
import json, sys, threading, time, urllib.request
port, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
qs = json.load(open(path, encoding="utf-8"))
results = []
def client(i):
    for q in qs[i * 2:(i + 1) * 2]:
        body = json.dumps({"question": q, "stream": True}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/ask", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        start = time.time(); first = None; status = None; event = None
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                status = r.status
                for raw in r:
                    line = raw.decode().strip()
                    if line.startswith("event: "): event = line[7:]
                    if line.startswith("data: ") and first is None and event in ("token", "answer"): first = time.time() - start
        except urllib.error.HTTPError as e:
            status = e.code
        results.append((i, status, first, time.time() - start))
threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join()
firsts = sorted(r[2] for r in results if r[2] is not None)
totals = sorted(r[3] for r in results)
print(f"{len(results)} requests from 4 clients in {time.time() - t0:.1f} s; statuses {sorted(set(r[1] for r in results))}; "
      f"time to first token min {firsts[0]:.1f} s, median {firsts[len(firsts)//2]:.1f} s, max {firsts[-1]:.1f} s; "
      f"total median {totals[len(totals)//2]:.1f} s, max {totals[-1]:.1f} s")
PY
curl -s -H "Authorization: Bearer $KB_API_TOKEN" "http://127.0.0.1:$port/metrics" | grep -E "^kb_(answers|abstentions|generation_rejected|generated_tokens)" || true
