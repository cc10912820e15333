#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, ingest KnowledgeBase/ and answer a question.
#   scripts/demo.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product kb
kb=.build/release/kb
question=${1:-"How do I ingest a folder?"}
export KB_DB="${KB_DB:-$PWD/.kb/kb.sqlite}"
"$kb" ingest KnowledgeBase
echo
echo "\$ kb ask \"$question\""
"$kb" ask "$question"
echo
echo "\$ kb ask \"怎么导入一个文件夹？\""
"$kb" ask "怎么导入一个文件夹？"
