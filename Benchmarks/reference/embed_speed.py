#!/usr/bin/env python3
"""Reference embedding throughput for scripts/bench-embed.sh, in passages per CPU-second.

    embed_speed.py all-minilm-l6-v2 MODEL_FOLDER passages.jsonl   # sentence-transformers (torch, CPU)
    embed_speed.py multilingual-e5-small MODEL_FILE passages.jsonl  # Benchmarks/reference/e5_numpy.py

CPU time is the process's user+system time (all threads), measured around the encode call only.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
model, location, path = sys.argv[1:4]
passages = [json.loads(line)["text"] for line in open(path, encoding="utf-8") if line.strip()]

if model == "all-minilm-l6-v2":
    from sentence_transformers import SentenceTransformer
    import torch
    st = SentenceTransformer(location, device="cpu")
    st.max_seq_length = 256
    st.encode(passages[:8])
    cpu, wall = time.process_time(), time.time()
    st.encode(passages, batch_size=32, normalize_embeddings=True)
    cpu, wall = time.process_time() - cpu, time.time() - wall
    engine = f"sentence-transformers + torch {torch.__version__}, {torch.get_num_threads()} threads"
elif model == "multilingual-e5-small":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np
    from e5_numpy import E5Ref
    ref = E5Ref(location)
    ref.embed(passages[:4], prefix="passage: ")
    cpu, wall = time.process_time(), time.time()
    ref.embed(passages, prefix="passage: ", long_mode="truncate")
    cpu, wall = time.process_time() - cpu, time.time() - wall
    engine = f"NumPy {np.__version__} reference (Benchmarks/reference/e5_numpy.py)"
else:
    sys.exit(f"unknown model {model}")

print(json.dumps({"model": model, "engine": engine, "passages": len(passages), "cpu_seconds": cpu, "wall_seconds": wall,
                  "passages_per_cpu_second": len(passages) / cpu, "passages_per_second": len(passages) / wall}))
