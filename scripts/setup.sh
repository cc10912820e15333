#!/usr/bin/env bash
# kb's one set-up script: installs what is missing, and does nothing when all is in place.
#   - Debian packages kb builds and runs with (SQLite, libxml2, pkg-config; /usr/bin/time for benchmarks)
#   - checks the Swift toolchain
# Safe to run any number of times; called by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libsqlite3-dev libxml2-dev pkg-config time)

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
