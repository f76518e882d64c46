#!/usr/bin/env bash
# Set up and run every check: lint, unit/UI tests, doctests, browser tests.
# Extra args go to pytest (e.g. `bash scripts/test.sh -k stats`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt

# Debian's Chromium drives the browser tests (never `playwright install`).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: /usr/bin/chromium missing and not root: browser tests will be skipped"
  fi
fi

.venv/bin/ruff check sndiag tests pages app.py benchmarks
.venv/bin/hadolint Dockerfile
.venv/bin/python -m pytest "$@"

# The Docker image smoke test (podman stand-in, ~4 min, needs root): only when asked for.
if [ "${SNDIAG_DOCKER_SMOKE:-0}" = 1 ]; then
  bash scripts/docker-smoke.sh
fi
