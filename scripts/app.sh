#!/usr/bin/env bash
# Install what the app needs (first time only) and start it on http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh app
. .venv/bin/activate
exec streamlit run app.py "$@"
