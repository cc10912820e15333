#!/usr/bin/env bash
# Reproduces the calibration of kb's retrieval-confidence threshold (Sources/KBCore/Quality/AnswerAssessor.swift):
# `kb eval qa` with the extractive generator on CMRC 2018 (all questions, 300+ withheld) and on a SciFact-derived
# SQuAD file (300 claims, 100 withheld, 1,000 distractors), then Benchmarks/calibration/fit.py. About 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product kb >&2
kb=.build/release/kb
shared=${KB_SHARED:-../shared}/data
out=bench-out
mkdir -p "$out"
python3 Benchmarks/calibration/beir_to_squad.py "$shared/scifact-train" "$out/scifact-qa.json"
"$kb" eval qa --squad "$shared/cmrc2018-trial/cmrc2018_trial.squad-style.json" --withhold 300 --generator extractive \
  --db "$out/qa-cmrc.sqlite" --json --per-question > "$out/calib-cmrc-extractive.json"
"$kb" eval qa --squad "$out/scifact-qa.json" --withhold 100 --generator extractive \
  --db "$out/qa-scifact.sqlite" --json --per-question > "$out/calib-scifact-extractive.json"
python3 Benchmarks/calibration/fit.py "$out/calib-cmrc-extractive.json" "$out/calib-scifact-extractive.json"
