#!/usr/bin/env bash
# Ingest throughput and keyword-search latency, on ../shared/data. A benchmark, not a test.
#   scripts/bench.sh            # writes bench-out/ (git-ignored) and prints a Markdown table
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${KB_SHARED:-../shared}
[ -d "$shared/data" ] || { echo "bench: $shared/data is not present" >&2; exit 1; }
scripts/setup.sh
swift build -c release --product kb >&2
swift build -c release --product kb-bench >&2
kb=$PWD/.build/release/kb
out=$PWD/bench-out
rm -rf "$out" && mkdir -p "$out/scifact-docs"

# SciFact written out as one file per abstract (title, blank line, text).
python3 - "$shared/data/scifact-train/corpus.jsonl" "$out/scifact-docs" <<'PY'
import json, sys, os
src, dst = sys.argv[1], sys.argv[2]
for line in open(src, encoding="utf-8"):
    d = json.loads(line)
    with open(os.path.join(dst, d["_id"] + ".txt"), "w", encoding="utf-8") as f:
        f.write(d["title"] + "\n\n" + d["text"] + "\n")
PY

ingest() {  # name folder
  local name=$1 folder=$2
  /usr/bin/time -v -o "$out/$name.time" "$kb" ingest --db "$out/$name.sqlite" --json --quiet --no-embed "$folder" > "$out/$name.json" || true
  python3 - "$out/$name.json" "$out/$name.time" "$name" <<'PY'
import json, sys, re
s = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read()
wall = s["seconds"]; rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
files = s["added"] + s["updated"]
print(f"| {sys.argv[3]} | {files} files, {s['bytes_read']/1e6:.1f} MB, {s['chunks_added']} chunks | {wall:.2f} s | "
      f"{files/wall:.0f} | {s['bytes_read']/1e6/wall:.2f} | {s['chunks_added']/wall:.0f} | {rss/1024:.0f} MiB |")
PY
}

echo "| corpus | size | time | files/s | MB/s | chunks/s | peak RSS |"
echo "|---|---|---|---|---|---|---|"
ingest shared-docs "$shared/data/docs"
ingest scifact "$out/scifact-docs"
echo
echo "Keyword search over SciFact (809 training queries, top 10, median of 3 runs per query):"
.build/release/kb-bench search --db "$out/scifact.sqlite" --queries "$shared/data/scifact-train/queries.jsonl" --runs 3
