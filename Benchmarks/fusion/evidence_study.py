#!/usr/bin/env python3
"""Per-query evidence for fusion: compares fusions offline on lists dumped by `kb-bench lists` (keyword, vector and
kb's own hybrid ranking per query, with the best keyword hit's coverage of the query). For each set it prints
nDCG@10 and recall@5 of each side, of kb's hybrid, and of each candidate, and how far each candidate ends below
the better side of that set (the number the issue asks to keep within noise). Parameters are shared by all sets:
a candidate is judged by its worst set, not its best.

    python3 Benchmarks/fusion/evidence_study.py NAME=bench-out/lists-NAME.jsonl ...
"""
import json, math, statistics, sys


def ndcg10(ranking, qrels):
    dcg = sum(qrels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted((g for g in qrels.values() if g > 0), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


def recall5(ranking, qrels):
    relevant = {d for d, g in qrels.items() if g > 0}
    return len(relevant & set(ranking[:5])) / len(relevant) if relevant else 0.0


def rrf(kw, vec, k=20, wk=1.0, wv=1.0):
    s = {}
    for i, (d, _) in enumerate(kw): s[d] = s.get(d, 0) + wk / (k + i + 1)
    for i, (d, _) in enumerate(vec): s[d] = s.get(d, 0) + wv / (k + i + 1)
    return sorted(s, key=lambda d: (-s[d], d))


def sharpness(lst, depth=20):
    """How far the first score stands above the rest of the side's top `depth`, in standard deviations."""
    scores = [x for _, x in lst[:depth]]
    if len(scores) < 3: return 0.0
    rest = scores[1:]
    sd = statistics.pstdev(rest)
    return (scores[0] - statistics.mean(rest)) / sd if sd > 0 else 0.0


def zscores(lst, depth=50):
    scores = [x for _, x in lst[:depth]]
    if not scores: return {}, 0.0
    mean = statistics.mean(scores); sd = statistics.pstdev(scores) or 1.0
    return {d: (x - mean) / sd for d, x in lst[:depth]}, (scores[-1] - mean) / sd


def zfusion(kw, vec, wk=1.0, wv=1.0, depth=50):
    a, a_floor = zscores(kw, depth)
    b, b_floor = zscores(vec, depth)
    s = {d: wk * a.get(d, a_floor) + wv * b.get(d, b_floor) for d in set(a) | set(b)}
    return sorted(s, key=lambda d: (-s[d], d))


def overlap(kw, vec, n=10):
    return len({d for d, _ in kw[:n]} & {d for d, _ in vec[:n]}) / n


def kb_weight(r):
    """kb's current rule: keyword weight 0.5 when its best hit covers under a third of the query."""
    c = r.get("keyword_coverage")
    if not r["keyword"]: return 0.0
    return 0.5 if c is not None and c < 1 / 3 else 1.0


def coverage_ramp(r, lo=0.2, hi=0.6):
    c = r.get("keyword_coverage")
    if not r["keyword"]: return 0.0
    if c is None: return 1.0
    return min(1.0, max(0.0, (c - lo) / (hi - lo)))


def agreement_weights(r, k=20):
    """Each side weighted by how much the other side backs its first hits: a side whose top 5 the other side
    also ranks highly is trusted; one whose top 5 the other side ignores is not."""
    kw, vec = r["keyword"], r["vector"]
    if not kw: return 0.0, 1.0
    rk = {d: i for i, (d, _) in enumerate(kw[:100])}
    rv = {d: i for i, (d, _) in enumerate(vec[:100])}
    def backed(top, other):
        return sum(1 / (1 + other.get(d, 100) / 10) for d, _ in top[:5]) / 5
    return backed(kw, rv), backed(vec, rk)


def variants():
    v = {}
    v["keyword"] = lambda r: [d for d, _ in r["keyword"]]
    v["vector"] = lambda r: [d for d, _ in r["vector"]]
    v["kb hybrid"] = lambda r: [d for d, _ in r["hybrid"]]
    v["rrf20"] = lambda r: rrf(r["keyword"], r["vector"])
    v["rrf20 kb-rule"] = lambda r: rrf(r["keyword"], r["vector"], wk=kb_weight(r))
    v["rrf20 ramp"] = lambda r: rrf(r["keyword"], r["vector"], wk=coverage_ramp(r))
    for lo, hi in [(0.3, 0.7), (0.4, 0.8), (0.5, 0.9)]:
        v[f"rrf20 ramp {lo}-{hi}"] = (lambda lo, hi: lambda r: rrf(r["keyword"], r["vector"], wk=coverage_ramp(r, lo, hi)))(lo, hi)
    v["z"] = lambda r: zfusion(r["keyword"], r["vector"])
    v["z kb-rule"] = lambda r: zfusion(r["keyword"], r["vector"], wk=kb_weight(r))
    v["z ramp"] = lambda r: zfusion(r["keyword"], r["vector"], wk=coverage_ramp(r))
    for s in [0.5, 1.0]:
        v[f"rrf20 sharp s={s}"] = (lambda s: lambda r: rrf(r["keyword"], r["vector"],
                                                          wk=kb_weight(r) * (1 + s * math.tanh(sharpness(r["keyword"]) / 3)),
                                                          wv=1 + s * math.tanh(sharpness(r["vector"]) / 3)))(s)
    v["rrf20 agree"] = lambda r: (lambda w: rrf(r["keyword"], r["vector"], wk=w[0], wv=w[1]))(agreement_weights(r))
    v["rrf20 agree kb-rule"] = lambda r: (lambda w: rrf(r["keyword"], r["vector"], wk=w[0] * kb_weight(r), wv=w[1]))(agreement_weights(r))
    v["z agree"] = lambda r: (lambda w: zfusion(r["keyword"], r["vector"], wk=w[0], wv=w[1]))(agreement_weights(r))
    return v


def main():
    sets = []
    for arg in sys.argv[1:]:
        name, path = arg.split("=", 1) if "=" in arg else (arg, arg)
        rows = [json.loads(line) for line in open(path)]
        rows = [r for r in rows if any(g > 0 for g in r["qrels"].values())]
        sets.append((name, rows))
    table = {}
    for vname, fuse in variants().items():
        for name, rows in sets:
            rankings = [fuse(r) for r in rows]
            table[(vname, name)] = (
                sum(ndcg10(x, r["qrels"]) for x, r in zip(rankings, rows)) / len(rows),
                sum(recall5(x, r["qrels"]) for x, r in zip(rankings, rows)) / len(rows))
    names = [n for n, _ in sets]
    print("| fusion | " + " | ".join(f"{n} nDCG@10 / R@5" for n in names) + " | worst shortfall vs better side |")
    print("|---|" + "---|" * (len(names) + 1))
    for vname in variants():
        cells, worst = [], -1.0
        for n in names:
            nd, r5 = table[(vname, n)]
            better = max(table[("keyword", n)][0], table[("vector", n)][0])
            worst = max(worst, better - nd)
            cells.append(f"{nd:.4f} / {r5:.3f}")
        print(f"| {vname} | " + " | ".join(cells) + f" | {worst:+.4f} |")


if __name__ == "__main__":
    main()
