#!/usr/bin/env bash
# The cost of kb's front ends (README, "Benchmarks > MCP and the web page"), on the sample knowledge base
# (KnowledgeBase/, multilingual-e5-small vectors, the default in-process language model):
#  1. search and ask, median of N calls (default 50) each: the REST API (one keep-alive connection), the MCP
#     server over stdio (`kb mcp`) and over Streamable HTTP (`/mcp`), all with the official clients;
#  2. the web page: bytes of the first load, and the time from submitting a question to the first streamed token
#     in headless chromium against the same through an HTTP client on POST /v1/ask (median of 10).
# usage: scripts/bench-mcp.sh [N]         (≈ 5 minutes; needs scripts/test.sh's .venv-test and chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
bash scripts/setup.sh --for-tests
[ -x .venv-test/bin/python ] || { echo "bench-mcp: run scripts/test.sh once first (it creates .venv-test)" >&2; exit 1; }
swift build -c release --product kb >&2
kb=$PWD/.build/release/kb
py=$PWD/.venv-test/bin/python
out=$PWD/bench-out/mcp
rm -rf "$out" && mkdir -p "$out"
export KB_DB=$out/kb.sqlite KB_API_TOKEN=bench-token-0123456789abcdef
export KB_BENCH_QUERY="ingest a folder" KB_BENCH_QUESTION="How do I ingest a folder?"
"$kb" ingest --quiet KnowledgeBase >&2
port=$((20000 + RANDOM % 20000))
"$kb" serve --port "$port" --watch 0 2> "$out/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:$port

"$py" - "$url" "$n" > "$out/rest.json" <<'PY'
import json, os, statistics, sys, time
import httpx
url, n = sys.argv[1], int(sys.argv[2])
headers = {"Authorization": "Bearer " + os.environ["KB_API_TOKEN"]}
out = {}
with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
    for name, path, body in (("search", "/v1/search", {"query": os.environ["KB_BENCH_QUERY"], "k": 5}),
                             ("ask", "/v1/ask", {"question": os.environ["KB_BENCH_QUESTION"]})):
        client.post(path, json=body).raise_for_status()   # warm
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            client.post(path, json=body).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
        out[name] = statistics.median(samples)
    first = []
    for _ in range(10):
        started = time.perf_counter()
        with client.stream("POST", "/v1/ask", json={"question": os.environ["KB_BENCH_QUESTION"], "stream": True}) as response:
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("event: token"):
                    first.append((time.perf_counter() - started) * 1000)
                    break
            for _ in lines:
                pass
    out["first_token_ms"] = statistics.median(first)
print(json.dumps(out))
PY
"$py" Tests/KBCLITests/Scripts/mcp_client.py bench-stdio "$kb" "$PWD" "$n" > "$out/stdio.json"
"$py" Tests/KBCLITests/Scripts/mcp_client.py bench-http "$url/mcp" "$KB_API_TOKEN" "$n" > "$out/http.json"
"$py" Tests/KBCLITests/Scripts/web_check.py bench "$url" "$KB_API_TOKEN" 10 > "$out/web.json"
first_load=$(for f in "" assets/app.js assets/app.css assets/icon.svg; do curl -s -o /dev/null -w '%{size_download}\n' "$url/$f"; done | awk '{s+=$1} END {print s}')

python3 - "$out" "$n" "$first_load" <<'PY'
import json, sys
out, n, first_load = sys.argv[1], sys.argv[2], int(sys.argv[3])
rest, stdio, http, web = (json.load(open(f"{out}/{name}.json")) for name in ("rest", "stdio", "http", "web"))
print(f"median of {n} calls, ms | search | ask")
print("---|---:|---:")
for label, row in (("REST API (POST /v1/search, /v1/ask)", rest), ("MCP over stdio (kb mcp)", stdio), ("MCP over Streamable HTTP (/mcp)", http)):
    print(f"{label} | {row['search']:.1f} | {row['ask']:.0f}")
print(f"\nweb page first load: {first_load:,} bytes (HTML, script, style sheet, icon; uncompressed)")
print(f"time to the first streamed token, median of 10: browser {web['first_token_ms']:.0f} ms, HTTP client on /v1/ask {rest['first_token_ms']:.0f} ms")
PY
