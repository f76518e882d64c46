#!/usr/bin/env bash
# Create .venv (once) and install the pinned requirements file given as $1.
# Sourced by app.sh and test.sh; safe to run again (pip skips what is installed).
set -euo pipefail
req="${1:-requirements.txt}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
.venv/bin/python -m pip install -q -r "$req"
