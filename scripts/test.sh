#!/usr/bin/env bash
# Runs kb's tests: set-up (idempotent), then unit and end-to-end tests.
# Tests that use ../shared/data run when it is present and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# A virtual environment with the official openai client, for the test that talks to `kb serve` with it.
venv=.venv-test
openai_version=1.109.1
if [ ! -f "$venv/.openai-$openai_version" ]; then
  echo "test: creating $venv with openai==$openai_version" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || {
    echo "test: python3 cannot create a virtual environment; install Debian's python3-venv (scripts/setup.sh does when it can)" >&2
    exit 1
  }
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "openai==$openai_version" >&2
  touch "$venv/.openai-$openai_version"
fi
swift build --build-tests
swift test --skip-build "$@"
