#!/usr/bin/env bash
# Runs kb's tests: set-up (idempotent), then unit and end-to-end tests.
# Tests that use ../shared/data run when it is present and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
