#!/usr/bin/env bash
# Generation benchmarks (README, "Benchmarks > Answers"):
#  1. latency: kb's in-process llama.cpp against llama-server (same build, model, prompts, threads), alternating runs
#  2. `kb eval qa` on the first 200 CMRC 2018 questions, 50+ of them made unanswerable by withholding their
#     paragraph, with each generator: extractive, llama (in process) and openai (llama-server on the same model).
# usage: scripts/bench-generate.sh [threads]        (≈ 40 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product kb >&2
swift build -c release --product kb-bench >&2
threads=${1:-2}
kb=.build/release/kb
server=${KB_LLAMA_PREFIX:-/usr/local}/bin/llama-server
model=models/gguf/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
squad=${KB_SHARED:-../shared}/data/cmrc2018-trial/cmrc2018_trial.squad-style.json
out=bench-out
mkdir -p "$out"

echo "== latency: kb in process vs llama-server, $threads threads" >&2
.build/release/kb-bench generate --model "$model" --server "$server" --squad "$squad" --questions 10 --threads "$threads" \
  --max-tokens 64 | tee "$out/generate-latency.json"

common=(eval qa --squad "$squad" --limit 200 --withhold 50 --db "$out/qa-cmrc200.sqlite" --threads "$threads" --json --per-question)
echo "== kb eval qa: extractive" >&2
"$kb" "${common[@]}" --generator extractive > "$out/qa-extractive.json"
echo "== kb eval qa: llama (qwen2.5-coder-0.5b in process)" >&2
"$kb" "${common[@]}" --generator llama --model qwen2.5-coder-0.5b > "$out/qa-llama.json"

echo "== kb eval qa: openai (llama-server, same model)" >&2
port=$((20000 + RANDOM % 20000))
"$server" -m "$model" --alias qwen2.5-coder-0.5b --host 127.0.0.1 --port "$port" -c 4096 -t "$threads" -np 1 --no-webui \
  > "$out/llama-server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
KB_GENERATION_ENDPOINT="http://127.0.0.1:$port/v1" "$kb" "${common[@]}" --generator openai --model qwen2.5-coder-0.5b \
  > "$out/qa-openai.json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print(f"{'generator':<12} {'EM':>6} {'F1':>6} {'F1 ans.':>8} {'abst. ans.':>10} {'abst. unans.':>12} {'gold cited':>10} {'model cites ok':>14} {'p50 s':>6} {'p90 s':>6} {'TTFT p50':>8}")
for name in ["extractive", "llama", "openai"]:
    m = json.load(open(f"{out}/qa-{name}.json"))
    acc = m.get("generator_citation_accuracy")
    print(f"{name:<12} {m['exact_match']*100:6.1f} {m['f1']*100:6.1f} {m['f1_answered']*100:8.1f} {m['abstention_answerable']*100:10.1f} "
          f"{m['abstention_unanswerable']*100:12.1f} {m['gold_citation_rate']*100:10.1f} {'—' if acc is None else f'{acc*100:.1f}':>14} "
          f"{m['latency_p50']:6.2f} {m['latency_p90']:6.2f} {(m.get('first_token_p50') or 0):8.2f}  ({m['answerable']} answerable, {m['unanswerable']} unanswerable)")
PY
