#!/usr/bin/env python3
"""Find candidate pairs of SciFact abstracts that share a distinctive entity.

Usage: python3 pairs.py CORPUS.jsonl [--kinds sym,word,gram] [--max-df 6] [--max-sim 0.12] [--limit 600] > candidates.tsv

The set's pairs were read from two runs: the default one, and `--kinds word,gram --limit 300`
(drug/disease words and multi-word terms only, which the symbol-heavy default run ranks low).

A "distinctive entity" is a term that appears in few abstracts (document frequency 2..max-df):
  * gene/protein-like symbols (BRCA1, IL-17A, mTORC1, p53, PD-L1, miR-155, CD4+ ...),
  * drug- or disease-like words by suffix (…mab, …nib, …statin, …itis, …oma, …emia, …),
  * multi-word terms (bigrams/trigrams of content words) whose words are themselves uncommon.
For every term, all pairs of abstracts containing it are candidates. A pair is kept only if the two
abstracts are otherwise about different things: the TF-IDF cosine of title+text, with the shared
term's words removed, must be at most max-sim. Each abstract appears in at most one output pair
(greedy, best score first), so every pair can be used once and topics stay spread over the corpus.

Output (TSV, best first): score, term, df, cosine, id_a, id_b, title_a, title_b.
Standard library only; the output is the same on every run.
"""
import argparse
import collections
import itertools
import json
import math
import re
import sys

STOP = set("""a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having
he her here hers him his how however i if in into is it its itself just may might more most much must no nor not
now of off on once only or other our out over own same she should so some such than that the their them then
there these they this those through to too under until up very was we were what when where which while who whom
why will with within would you your we our us using used use based among whether thus via compared versus vs
study studies studied result results show shows showed shown found find finding findings data analysis analyses
patients patient group groups effect effects significant significantly increased increase decreased decrease
associated association risk level levels high higher low lower role new including however two three one four
first second well less p ci ratio years year months month weeks week days day cells cell human mice mouse model
models method methods conclusion conclusions background objective objectives design setting participants
measurements main outcome outcomes trial trials clinical total number mean median age women men children adults
time rate rates report reported reports evidence suggest suggests suggested demonstrate demonstrated identify
identified provide provides present potential important possible different similar specific expression activity
function functions mechanism mechanisms response responses treatment treated control controls""".split())

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-\+/]*[A-Za-z0-9\+]|[A-Za-z0-9]")
WORD = re.compile(r"[a-z0-9]+")
GENE = re.compile(r"^(?=.*[A-Za-z])(?:(?=.*[0-9])|(?=(?:.*[A-Z]){2}))[A-Za-z0-9][A-Za-z0-9\-\+/]{1,14}$")
SUFFIX = re.compile(r"(mab|nib|statin|pril|sartan|olol|mycin|cillin|vir|azole|tide|platin|parin|xaban|"
                    r"itis|oma|omas|emia|aemia|pathy|osis|plasia|trophy|algia|ase|ases|in|ine|ide|one|ol)$")
ROMAN_OR_UNIT = re.compile(r"^(?:[IVX]+|[0-9]+(?:\.[0-9]+)?(?:mg|kg|ml|mm|nm|cm|h|s|ms)?|[0-9]+-[0-9]+|"
                           r"CI|OR|HR|RR|SD|SE|BMI|USA|UK|US|DNA|RNA|mRNA|PCR|MRI|CT|HIV|WHO|ICU|RCT|"
                           r"[0-9]+-year|[0-9]+-fold|[0-9]+-month|[0-9]+-week|[0-9]+-day)$")


TITLECASE = re.compile(r"^[A-Z][a-z]+(?:[-/][A-Z]?[a-z]+)+$|^[A-Z][a-z]+[A-Z][a-z]+$|^[A-Z]{2,}[a-z]{3,}")
METHOD_TERMS = set("""spss sas stata ancova anova manova atcc omim cd-rom glaxosmithkline tabulation mann-whitney
bland-altman kaplan-meier chi2 pcr-based refseq geo usda nyha itt wmd nnh taqman fantom5 high-throughput
long-term follow-up evidence-based large-scale objectiveto i-v a/b a/a g/cm2 dna/rna naoh nacl mgcl""".split())


def generic_numbered(tok, word_df):
    """'protein-3', 'ligand-1', 'kinase-2': a fragment of a longer name, not an entity by itself."""
    m = re.match(r"^([A-Za-z]+)-[0-9]+$", tok)
    return bool(m) and word_df.get(m.group(1).lower(), 0) > 150


def sym_weight(tok):
    if re.search(r"[0-9]", tok):
        return 1.3          # CDX2, FIS1, caspase-9, IL-6R
    if re.search(r"[a-z]", tok[1:]) and re.search(r"[A-Z]", tok):
        return 1.2          # mTOR, RalB, Gfi1
    return 0.9              # all-capital acronyms are often ambiguous abbreviations


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def words(text):
    return WORD.findall(text.lower())


def terms_of(doc, word_df):
    """Candidate entity terms of one abstract (a set of strings)."""
    text = doc["title"] + " " + doc["text"]
    out = set()
    for tok in TOKEN.findall(text):
        tok = tok.strip("-+/")
        if len(tok) < 3 or ROMAN_OR_UNIT.match(tok):
            continue
        if (GENE.match(tok) and not re.match(r"^[0-9]", tok) and not TITLECASE.match(tok)
                and tok.lower() not in METHOD_TERMS and not generic_numbered(tok, word_df)):
            out.add("sym:" + tok)
        low = tok.lower()
        if (low.isalpha() and len(low) >= 8 and low not in STOP and SUFFIX.search(low)
                and word_df.get(low, 0) <= 6):
            out.add("word:" + low)
    ws = words(text)
    for n in (2, 3):
        for i in range(len(ws) - n + 1):
            gram = ws[i:i + n]
            if any(w in STOP or w.isdigit() or len(w) < 3 for w in gram):
                continue
            if min(word_df.get(w, 0) for w in gram) > 60:
                continue  # every word common: not distinctive
            out.add("gram:" + " ".join(gram))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--min-df", type=int, default=2)
    ap.add_argument("--max-df", type=int, default=6)
    ap.add_argument("--max-sim", type=float, default=0.12)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--kinds", default="sym,word,gram",
                    help="comma-separated term kinds to use: sym (symbols), word (suffix words), gram (multi-word)")
    ap.add_argument("--reuse", action="store_true", help="allow an abstract in more than one pair")
    a = ap.parse_args()

    docs = load(a.corpus)
    docs = [d for d in docs if len(d["text"].split()) >= 80]  # need enough text to write a question
    n = len(docs)
    toks = [words(d["title"] + " " + d["text"]) for d in docs]
    word_df = collections.Counter()
    for t in toks:
        word_df.update(set(t))

    # TF-IDF vectors for the "otherwise different" test
    idf = {w: math.log(n / c) for w, c in word_df.items()}
    vecs = []
    for t in toks:
        tf = collections.Counter(w for w in t if w not in STOP)
        v = {w: (1 + math.log(c)) * idf[w] for w, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vecs.append({w: x / norm for w, x in v.items()})

    def cosine(i, j, drop):
        vi, vj = vecs[i], vecs[j]
        if len(vi) > len(vj):
            vi, vj = vj, vi
        return sum(x * vj[w] for w, x in vi.items() if w in vj and w not in drop)

    postings = collections.defaultdict(set)
    for i, d in enumerate(docs):
        for term in terms_of(d, word_df):
            postings[term].add(i)
    # symbols are case-sensitive; merge their df check with the lower-cased form to avoid 'CAT' vs 'cat'
    cands = []
    for term, ids in postings.items():
        df = len(ids)
        if not (a.min_df <= df <= a.max_df):
            continue
        kind, surface = term.split(":", 1)
        if kind not in a.kinds.split(","):
            continue
        if kind == "sym" and word_df.get(surface.lower(), 0) > a.max_df:
            continue
        drop = set(words(surface))
        weight = sym_weight(surface) if kind == "sym" else {"word": 1.1, "gram": 1.0}[kind]
        base = math.log(n / df) * weight
        for i, j in itertools.combinations(sorted(ids), 2):
            sim = cosine(i, j, drop)
            if sim > a.max_sim:
                continue
            cands.append((base * (1.0 - sim), surface, df, sim, i, j))
    cands.sort(key=lambda c: (-c[0], c[1], docs[c[4]]["_id"], docs[c[5]]["_id"]))

    used, seen_pairs, out = set(), set(), []
    for score, surface, df, sim, i, j in cands:
        if (i, j) in seen_pairs:
            continue
        if not a.reuse and (i in used or j in used):
            continue
        seen_pairs.add((i, j))
        used.update((i, j))
        out.append((score, surface, df, sim, docs[i], docs[j]))
        if len(out) >= a.limit:
            break

    w = sys.stdout
    w.write("score\tterm\tdf\tcosine\tid_a\tid_b\ttitle_a\ttitle_b\n")
    for score, surface, df, sim, da, db in out:
        w.write(f"{score:.3f}\t{surface}\t{df}\t{sim:.3f}\t{da['_id']}\t{db['_id']}\t"
                f"{da['title'][:120]}\t{db['title'][:120]}\n")
    print(f"{len(cands)} candidate pairs, {len(out)} written", file=sys.stderr)


if __name__ == "__main__":
    main()
