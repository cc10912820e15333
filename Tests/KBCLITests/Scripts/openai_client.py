"""Talks to `kb serve` with the official openai package: lists models, then a plain and a streaming chat
completion. Prints one JSON object with what it saw; the Swift test checks it."""
import json
import sys

from openai import OpenAI

base_url, token, question = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=120)
models = [m.id for m in client.models.list().data]
plain = client.chat.completions.create(model="kb", messages=[{"role": "user", "content": question}])
stream = client.chat.completions.create(model="kb", messages=[{"role": "user", "content": question}], stream=True)
pieces = []
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
extra = (plain.model_extra or {}).get("kb", {})
print(json.dumps({
    "models": models,
    "plain": plain.choices[0].message.content,
    "finish_reason": plain.choices[0].finish_reason,
    "streamed": "".join(pieces),
    "chunks": len(pieces),
    "kb_citations": [c.get("path") for c in extra.get("citations", [])],
}))
