#!/usr/bin/env bash
# The README's screenshots of the web page (docs/screenshots/*.png), taken in headless chromium on the sample
# knowledge base with the default models. usage: scripts/screenshots.sh   (needs scripts/test.sh's .venv-test)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --for-tests
swift build -c release --product kb >&2
kb=$PWD/.build/release/kb
out=$PWD/bench-out/screenshots
rm -rf "$out" && mkdir -p "$out" docs/screenshots
export KB_DB=$out/kb.sqlite KB_API_TOKEN=shots-token-0123456789abcdef
"$kb" ingest --quiet KnowledgeBase >&2
port=$((20000 + RANDOM % 20000))
"$kb" serve --port "$port" --watch 0 2> "$out/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
.venv-test/bin/python Tests/KBCLITests/Scripts/web_check.py shots "http://127.0.0.1:$port" "$KB_API_TOKEN" docs/screenshots \
  "How do I ingest a folder?" "hybrid search" "增量导入"
# Palette PNGs: a fifth of the size, no visible change.
if ! command -v pngquant >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq --no-install-recommends pngquant >&2; else sudo -n apt-get install -y -qq --no-install-recommends pngquant >&2; fi
fi
for f in docs/screenshots/*.png; do pngquant --force --quality 60-85 --output "$f" "$f"; done
ls -l docs/screenshots
