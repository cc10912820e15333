#!/usr/bin/env bash
# Runs kb's tests: set-up (idempotent), then unit and end-to-end tests.
# Tests that use ../shared/data run when it is present and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --for-tests
# A virtual environment with the official clients kb's end-to-end tests drive it with: openai (the
# OpenAI-compatible API), mcp (the MCP server over stdio and HTTP) and selenium (the web page in Debian's chromium).
venv=.venv-test
pins="openai==1.109.1 mcp==2.3.0 selenium==4.51.0"
stamp="$venv/.pins-$(echo "$pins" | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "test: creating $venv with $pins" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || {
    echo "test: python3 cannot create a virtual environment; install Debian's python3-venv (scripts/setup.sh does when it can)" >&2
    exit 1
  }
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins >&2
  touch "$stamp"
fi
swift build --build-tests
# The PostgreSQL store's tests use a local cluster on port 54330 (scripts/postgres.sh), started here rather than
# from inside the test runner (whose children inherit a blocked signal mask), and stopped afterwards. The
# connection-loss test stops and starts a cluster of its own on 54331, the read-replica test a primary on 54332
# with a standby on 54333 (through a shim that clears the mask); they are stopped here too in case a test was
# interrupted.
trap 'for p in 54330 54331 54333 54332; do scripts/postgres.sh stop $p >/dev/null 2>&1 || true; done' EXIT
if url=$(scripts/postgres.sh start 54330 | tail -n 1); then
  export KB_TEST_POSTGRES_URL=$url
else
  echo "test: PostgreSQL could not be started (see above); its tests will say so and stop" >&2
fi
swift test --skip-build "$@"
