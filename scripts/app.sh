#!/usr/bin/env bash
# Set up and start the dashboard: http://localhost:8501 (extra args go to `streamlit run`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/streamlit run app.py "$@"
