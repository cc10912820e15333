#!/usr/bin/env python3
"""Turns a BEIR test set into a SQuAD-format file for `kb eval qa` calibration runs.

Each judged query becomes a question on its first relevant document; the gold "answer" is the document's
title (only retrieval confidence and abstention matter for calibration, not exact match). A sample of other
documents is added as distractor paragraphs (without questions). Deterministic for a given seed.

usage: beir_to_squad.py BEIR_DIR OUT.json [--queries N] [--distractors N] [--seed S]
"""
import argparse, json, os, random

parser = argparse.ArgumentParser()
parser.add_argument("beir")
parser.add_argument("out")
parser.add_argument("--queries", type=int, default=300)
parser.add_argument("--distractors", type=int, default=1000)
parser.add_argument("--seed", type=int, default=7)
args = parser.parse_args()

corpus = {}
with open(os.path.join(args.beir, "corpus.jsonl"), encoding="utf-8") as f:
    for line in f:
        doc = json.loads(line)
        corpus[str(doc["_id"])] = doc
qrels = {}
qrels_dir = os.path.join(args.beir, "qrels")
for name in sorted(os.listdir(qrels_dir)):
    with open(os.path.join(qrels_dir, name), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or not parts[-1].isdigit():
                continue
            if int(parts[-1]) > 0 and parts[-2] in corpus:
                qrels.setdefault(parts[0], []).append(parts[-2])
queries = []
with open(os.path.join(args.beir, "queries.jsonl"), encoding="utf-8") as f:
    for line in f:
        q = json.loads(line)
        if str(q["_id"]) in qrels:
            queries.append(q)
rng = random.Random(args.seed)
rng.shuffle(queries)
queries = queries[: args.queries]

paragraphs = {}
for q in queries:
    doc_id = qrels[str(q["_id"])][0]
    doc = corpus[doc_id]
    p = paragraphs.setdefault(doc_id, {"id": doc_id, "context": doc.get("text", ""), "qas": [], "title": doc.get("title", "")})
    p["qas"].append({"id": str(q["_id"]), "question": q["text"], "answers": [{"text": doc.get("title") or doc_id, "answer_start": 0}]})
others = [d for d in corpus if d not in paragraphs]
rng.shuffle(others)
for doc_id in others[: args.distractors]:
    doc = corpus[doc_id]
    paragraphs[doc_id] = {"id": doc_id, "context": doc.get("text", ""), "qas": [], "title": doc.get("title", "")}
# Questions first (in shuffled order), distractors after, so that `kb eval qa --withhold` picks question paragraphs.
data = [{"title": p["title"], "paragraphs": [{"id": p["id"], "context": p["context"], "qas": p["qas"]}]} for p in paragraphs.values()]
with open(args.out, "w", encoding="utf-8") as f:
    json.dump({"version": "beir-derived", "data": data}, f, ensure_ascii=False)
print(f"{len(queries)} questions on {sum(1 for p in paragraphs.values() if p['qas'])} paragraphs, {len(paragraphs)} paragraphs in all")
