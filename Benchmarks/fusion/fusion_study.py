#!/usr/bin/env python3
"""Compares fusion functions offline on ranked lists dumped by `kb-bench lists` (one JSON line per
query: keyword and vector rankings with scores, and the judgements). Prints nDCG@10 per variant.

    python3 Benchmarks/fusion/fusion_study.py bench-out/lists-*.jsonl
"""
import json, math, sys

def ndcg10(ranking, qrels):
    dcg = sum(qrels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted((g for g in qrels.values() if g > 0), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0

def rrf(kw, vec, k=60, wk=1.0, wv=1.0):
    s = {}
    for i, (d, _) in enumerate(kw): s[d] = s.get(d, 0) + wk / (k + i + 1)
    for i, (d, _) in enumerate(vec): s[d] = s.get(d, 0) + wv / (k + i + 1)
    return sorted(s, key=lambda d: -s[d])

def convex(kw, vec, alpha=0.5):
    def norm(lst):
        if not lst: return {}
        hi, lo = lst[0][1], lst[-1][1]
        return {d: (x - lo) / (hi - lo) if hi > lo else 1.0 for d, x in lst}
    a, b = norm(kw), norm(vec)
    s = {d: alpha * a.get(d, 0) + (1 - alpha) * b.get(d, 0) for d in set(a) | set(b)}
    return sorted(s, key=lambda d: -s[d])

def gap_weighted(kw, vec, k=60, strength=2.0):
    # keyword weight grows with how clearly BM25's first hit beats its second
    if not kw: return [d for d, _ in vec]
    s1 = kw[0][1]; s2 = kw[1][1] if len(kw) > 1 else 0.0
    g = (s1 - s2) / s1 if s1 > 0 else 0.0
    return rrf(kw, vec, k=k, wk=1.0 + strength * g)

variants = {
    "keyword": lambda kw, vec: [d for d, _ in kw],
    "vector": lambda kw, vec: [d for d, _ in vec],
    "rrf k=60": lambda kw, vec: rrf(kw, vec),
    "rrf k=20": lambda kw, vec: rrf(kw, vec, k=20),
    "rrf k=60 wk=1.5": lambda kw, vec: rrf(kw, vec, wk=1.5),
    "rrf k=60 wv=1.5": lambda kw, vec: rrf(kw, vec, wv=1.5),
    "convex a=0.3": lambda kw, vec: convex(kw, vec, 0.3),
    "convex a=0.5": lambda kw, vec: convex(kw, vec, 0.5),
    "convex a=0.7": lambda kw, vec: convex(kw, vec, 0.7),
    "rrf gap s=1": lambda kw, vec: gap_weighted(kw, vec, strength=1),
    "rrf gap s=2": lambda kw, vec: gap_weighted(kw, vec, strength=2),
    "rrf gap s=4": lambda kw, vec: gap_weighted(kw, vec, strength=4),
}

for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path)]
    print(f"{path} ({len(rows)} queries)")
    for name, fuse in variants.items():
        score = sum(ndcg10(fuse(r["keyword"][:100], r["vector"][:100]), r["qrels"]) for r in rows) / len(rows)
        print(f"  {name:18s} nDCG@10 {score:.4f}")
