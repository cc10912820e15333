#!/usr/bin/env python3
"""Build the cross-language (English <-> Chinese) BEIR test set.

    python3 build.py SHARED_DATA_DIR OUT_DIR [--distractors N]

SHARED_DATA_DIR is the folder holding `cmrc2018-trial/beir/corpus.jsonl` and
`scifact-train/corpus.jsonl` (normally ../shared/data next to the project; the
`shared` folder itself is accepted too). Writes OUT_DIR/corpus.jsonl,
OUT_DIR/queries.jsonl and OUT_DIR/qrels/test.tsv.

The corpus is every CMRC 2018 trial paragraph (Chinese), every SciFact abstract
that a query points at (English), and N further SciFact abstracts chosen with
random.Random(13) as English distractors. Document ids are kept as in the
source files. Queries and qrels are copied from this folder. Standard library only.
"""

import argparse
import json
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CMRC = os.path.join("cmrc2018-trial", "beir", "corpus.jsonl")
SCIFACT = os.path.join("scifact-train", "corpus.jsonl")
SEED = 13


def fail(message):
    sys.exit(f"build.py: error: {message}")


def read_jsonl(path):
    if not os.path.isfile(path):
        fail(f"missing source file {path}")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                fail(f"{path}:{number}: not valid JSON ({error})")
            if "_id" not in row:
                fail(f"{path}:{number}: no _id")
            row["_id"] = str(row["_id"])
            rows.append(row)
    return rows


def read_qrels(path):
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\n").split("\t")
            if number == 1 and fields[:2] == ["query-id", "corpus-id"]:
                continue
            if not line.strip():
                continue
            if len(fields) != 3:
                fail(f"{path}:{number}: expected query-id<TAB>corpus-id<TAB>score")
            pairs.append((fields[0], fields[1], fields[2]))
    return pairs


def resolve_shared(directory):
    for candidate in (directory, os.path.join(directory, "data")):
        if os.path.isfile(os.path.join(candidate, CMRC)) and os.path.isfile(os.path.join(candidate, SCIFACT)):
            return candidate
    fail(f"{directory} does not contain {CMRC} and {SCIFACT} (nor does {os.path.join(directory, 'data')})")


def document(row, lang, source):
    return {"_id": row["_id"], "title": row.get("title", ""), "text": row.get("text", ""),
            "metadata": {"lang": lang, "source": source}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shared", metavar="SHARED_DATA_DIR")
    parser.add_argument("out", metavar="OUT_DIR")
    parser.add_argument("--distractors", type=int, default=1000, metavar="N",
                        help="extra SciFact abstracts added as English distractors (default 1000)")
    args = parser.parse_args()
    if args.distractors < 0:
        fail("--distractors must be >= 0")

    shared = resolve_shared(args.shared)
    queries_path = os.path.join(HERE, "queries.jsonl")
    qrels_path = os.path.join(HERE, "qrels", "test.tsv")
    queries = read_jsonl(queries_path)
    qrels = read_qrels(qrels_path)

    query_ids = [q["_id"] for q in queries]
    duplicates = sorted({i for i in query_ids if query_ids.count(i) > 1})
    if duplicates:
        fail(f"duplicate query ids in {queries_path}: {', '.join(duplicates)}")
    unknown = sorted({q for q, _, _ in qrels} - set(query_ids))
    if unknown:
        fail(f"{qrels_path} names queries that are not in queries.jsonl: {', '.join(unknown)}")

    cmrc = read_jsonl(os.path.join(shared, CMRC))
    scifact = read_jsonl(os.path.join(shared, SCIFACT))
    cmrc_ids = {row["_id"] for row in cmrc}
    scifact_ids = {row["_id"] for row in scifact}
    clash = cmrc_ids & scifact_ids
    if clash:
        fail(f"CMRC and SciFact share document ids: {', '.join(sorted(clash)[:10])}")

    gold = {doc for _, doc, _ in qrels} | {q.get("metadata", {}).get("gold_doc") for q in queries}
    gold.discard(None)
    missing = sorted(gold - cmrc_ids - scifact_ids)
    if missing:
        fail(f"{len(missing)} gold document(s) not found in the source data under {shared}: {', '.join(missing)}")

    gold_scifact = gold & scifact_ids
    pool = [row["_id"] for row in scifact if row["_id"] not in gold_scifact and row.get("text", "").strip()]
    if args.distractors > len(pool):
        fail(f"asked for {args.distractors} distractors but only {len(pool)} non-gold SciFact abstracts exist")
    distractors = set(random.Random(SEED).sample(pool, args.distractors))
    keep = gold_scifact | distractors

    corpus = [document(row, "zh", "cmrc2018-trial") for row in cmrc]
    corpus += [document(row, "en", "scifact-train") for row in scifact if row["_id"] in keep]

    os.makedirs(os.path.join(args.out, "qrels"), exist_ok=True)
    with open(os.path.join(args.out, "corpus.jsonl"), "w", encoding="utf-8") as handle:
        for row in corpus:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    shutil.copyfile(queries_path, os.path.join(args.out, "queries.jsonl"))
    shutil.copyfile(qrels_path, os.path.join(args.out, "qrels", "test.tsv"))

    directions = {}
    for q in queries:
        key = q.get("metadata", {}).get("direction", "?")
        directions[key] = directions.get(key, 0) + 1
    print(f"corpus: {len(corpus)} documents ({len(cmrc)} CMRC zh, {len(gold_scifact)} SciFact gold en, "
          f"{len(distractors)} SciFact distractors en)")
    print(f"queries: {len(queries)} ({', '.join(f'{k} {v}' for k, v in sorted(directions.items()))}); "
          f"qrels: {len(qrels)} lines")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
