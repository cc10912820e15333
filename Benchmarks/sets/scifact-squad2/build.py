#!/usr/bin/env python3
"""Builds the SciFact SQuAD 2.0-style QA set (hand-written questions.jsonl) as a SQuAD 2.0 file for `kb eval qa`.

One article per abstract that has questions (title = the abstract's title, one paragraph whose id is the SciFact
_id and whose context is the abstract's text exactly as in corpus.jsonl), then N other SciFact abstracts chosen
with random.Random(29) as distractor paragraphs without questions. Question paragraphs come first, so that
`kb eval qa --withhold` withholds question paragraphs.

usage: build.py SHARED_DATA_DIR OUT.json [--distractors N]

SHARED_DATA_DIR is the shared data folder (holding scifact-train/corpus.jsonl), e.g. ../../../../shared/data;
the scifact-train folder itself, or the shared folder above data/, are accepted too. Standard library only.
"""
import argparse
import json
import os
import random
import sys

SEED = 29
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(message):
    sys.exit(f"build.py: error: {message}")


def find_corpus(shared):
    for candidate in (os.path.join(shared, "scifact-train", "corpus.jsonl"),
                      os.path.join(shared, "data", "scifact-train", "corpus.jsonl"),
                      os.path.join(shared, "corpus.jsonl")):
        if os.path.isfile(candidate):
            return candidate
    fail(f"no scifact-train/corpus.jsonl under {shared}")


def main():
    parser = argparse.ArgumentParser(description="Build the scifact-squad2 SQuAD 2.0 file.")
    parser.add_argument("shared", metavar="SHARED_DATA_DIR")
    parser.add_argument("out", metavar="OUT.json")
    parser.add_argument("--distractors", type=int, default=300, help="distractor abstracts without questions (default 300)")
    parser.add_argument("--questions", default=os.path.join(HERE, "questions.jsonl"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.distractors < 0:
        fail("--distractors must be >= 0")

    corpus = {}
    order = []
    with open(find_corpus(args.shared), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                doc = json.loads(line)
                doc_id = str(doc["_id"])
                corpus[doc_id] = doc
                order.append(doc_id)

    questions = []
    with open(args.questions, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    questions.append(json.loads(line))
                except json.JSONDecodeError as error:
                    fail(f"{args.questions}:{number}: invalid JSON ({error})")

    articles = {}  # doc id -> article, in order of first question
    seen = set()
    errors = []
    for q in questions:
        qid, doc_id = q.get("id"), str(q.get("doc"))
        if not qid or qid in seen:
            errors.append(f"question id {qid!r} is missing or duplicated")
            continue
        seen.add(qid)
        if doc_id not in corpus:
            errors.append(f"{qid}: doc id {doc_id} is not in corpus.jsonl")
            continue
        if not str(q.get("question", "")).strip():
            errors.append(f"{qid}: empty question")
            continue
        context = corpus[doc_id].get("text", "")
        impossible = bool(q.get("is_impossible"))
        answers = q.get("answers", [])
        if impossible and answers:
            errors.append(f"{qid}: is_impossible but has answers")
            continue
        if not impossible and not answers:
            errors.append(f"{qid}: answerable but has no answers")
            continue
        spans = []
        for text in answers:
            start = context.find(text)
            if start < 0:
                errors.append(f"{qid}: answer {text!r} is not a substring of the text of doc {doc_id}")
            spans.append({"text": text, "answer_start": start})
        article = articles.setdefault(doc_id, {"title": corpus[doc_id].get("title", ""),
                                               "paragraphs": [{"id": doc_id, "context": context, "qas": []}]})
        qa = {"id": qid, "question": q["question"], "answers": spans, "is_impossible": impossible}
        article["paragraphs"][0]["qas"].append(qa)
    if errors:
        fail("\n  ".join([f"{len(errors)} problem(s) in {args.questions}:"] + errors))

    candidates = [d for d in order if d not in articles and corpus[d].get("text", "").strip()]
    if args.distractors > len(candidates):
        fail(f"--distractors {args.distractors} exceeds the {len(candidates)} available abstracts")
    distractors = random.Random(SEED).sample(candidates, args.distractors)
    data = list(articles.values()) + [
        {"title": corpus[d].get("title", ""), "paragraphs": [{"id": d, "context": corpus[d]["text"], "qas": []}]}
        for d in distractors]

    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"version": "v2.0", "data": data}, f, ensure_ascii=False)
    impossible = sum(1 for q in questions if q.get("is_impossible"))
    print(f"{len(questions)} questions ({len(questions) - impossible} answerable, {impossible} unanswerable) "
          f"on {len(articles)} abstracts, plus {len(distractors)} distractor abstracts -> {args.out}")


if __name__ == "__main__":
    main()
