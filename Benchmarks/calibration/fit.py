#!/usr/bin/env python3
"""Fits kb's retrieval-confidence rule to `kb eval qa --per-question --json` runs.

confidence = w * lexical + (1 - w) * clamp((cosine - floor) / (ceiling - floor)), with lexical coverage and the
best passage cosine taken from each question's record. Picks w, floor and the threshold that maximise the mean
balanced accuracy (answerable kept, unanswerable refused) over the runs while keeping at least --min-keep of the
answerable questions in every run. usage: fit.py RUN.json [RUN.json ...] [--min-keep 0.8] [--ceiling 0.95]
"""
import argparse, json

parser = argparse.ArgumentParser()
parser.add_argument("runs", nargs="+")
parser.add_argument("--min-keep", type=float, default=0.8)
parser.add_argument("--ceiling", type=float, default=0.95)
args = parser.parse_args()
runs = {path: json.load(open(path))["per_question"] for path in args.runs}

def rates(records, score, threshold):
    kept = [score(r) >= threshold for r in records if r["answerable"]]
    refused = [score(r) < threshold for r in records if not r["answerable"]]
    keep, refuse = sum(kept) / len(kept), sum(refused) / len(refused)
    return (keep + refuse) / 2, keep, refuse

best = None
for w in [x / 10 for x in range(0, 11)]:
    for floor in [0.74, 0.76, 0.78, 0.80, 0.82, 0.84]:
        def score(r, w=w, floor=floor):
            cosine = r.get("vector_similarity") or 0
            semantic = min(1, max(0, (cosine - floor) / (args.ceiling - floor)))
            lexical = r["keyword_coverage"] if "keyword_coverage" in r else r["retrieval_confidence"]
            return w * lexical + (1 - w) * semantic
        for t in [x / 100 for x in range(1, 100)]:
            results = [rates(records, score, t) for records in runs.values()]
            if min(keep for _, keep, _ in results) < args.min_keep:
                continue
            mean = sum(b for b, _, _ in results) / len(results)
            if best is None or mean > best[0]:
                best = (mean, w, floor, t, results)
mean, w, floor, t, results = best
print(f"lexical weight {w:.1f}, cosine floor {floor:.2f}, ceiling {args.ceiling:.2f}, threshold {t:.2f}: mean balanced accuracy {mean:.3f}")
for path, (b, keep, refuse) in zip(runs, results):
    print(f"  {path}: balanced {b:.3f}, answerable kept {keep:.3f}, unanswerable refused {refuse:.3f}")
