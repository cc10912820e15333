#!/usr/bin/env bash
# OCR quality and speed on this machine: renders pages of known text with ImageMagick (English from
# KnowledgeBase/en, simplified Chinese from KnowledgeBase/zh, traditional Chinese from ../shared's Big5 file when
# present), then `kb-bench ocr` reads them through kb's ImageLoader and reports the character error rate (CER)
# and seconds per page; the scanned PDF in ../shared/data/docs is timed too.
#   scripts/bench-ocr.sh            (needs scripts/setup.sh --for-tests: tesseract-ocr, imagemagick, fonts)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product kb-bench >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
latin=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
cjk=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# Paragraph text of a Markdown file: no headings, code, tables or link syntax.
prose() { python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"```.*?```", "", text, flags=re.S)
lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith(("#", "|", "-", "*", ">", "`"))]
text = " ".join(lines)
text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).replace("`", "").replace("**", "")
print(text[: int(sys.argv[2])])
PY
}
render() {  # text-file font pointsize output
  convert -font "$2" -pointsize "$3" -density 300 -size 2250x -type Grayscale caption:"$(cat "$1")" \
    -bordercolor white -border 150 "$4"
}
n=0
for f in KnowledgeBase/en/*.md; do
  for size in 10 12; do
    n=$((n + 1)); prose "$f" 900 > "$work/en-$n.txt"; render "$work/en-$n.txt" "$latin" "$size" "$work/en-$n.png"
  done
done
for f in KnowledgeBase/zh/*.md; do
  for size in 10 12; do
    n=$((n + 1)); prose "$f" 400 > "$work/zh-hans-$n.txt"; render "$work/zh-hans-$n.txt" "$cjk" "$size" "$work/zh-hans-$n.png"
  done
done
pdf=()
if [ -d ../shared/data/docs ]; then
  iconv -f BIG5 -t UTF-8 ../shared/data/docs/text/zh_tw_big5.txt | python3 -c 'import sys; t=" ".join(l.strip() for l in sys.stdin if l.strip()); print(t[:400])' > "$work/zh-hant-1.txt"
  for size in 10 12; do
    cp "$work/zh-hant-1.txt" "$work/zh-hant-$size.txt"; render "$work/zh-hant-$size.txt" "$cjk" "$size" "$work/zh-hant-$size.png"
  done
  rm "$work/zh-hant-1.txt"
  pdf=(--pdf ../shared/data/docs/pdf/scanned_linn_image_only.pdf)
fi
.build/release/kb-bench ocr --pages "$work" "${pdf[@]}"
