#!/usr/bin/env bash
# Create .venv (once) and install the pinned requirements file given as $1.
# Sourced by app.sh and test.sh. pip runs only when the requirements changed since the last
# successful install (a stamp of their content is kept in .venv), so a second start is instant.
set -euo pipefail
req="${1:-requirements.txt}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
# After an install, numba's on-disk cache is filled (python -m sndiag.precompile, ~20 s once), so a
# user's first comparison or PCEN does not wait for librosa's and sndiag's code to compile.
# The stamp covers the file and the ones it includes with -r, and pyproject.toml (the package).
stamp=".venv/.installed-$(basename "$req")"
digest="$(cat "$req" requirements*.txt pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$digest" ]; then
  .venv/bin/python -m pip install -q -r "$req"
  .venv/bin/python -m sndiag.precompile
  echo "$digest" > "$stamp"
fi
