#!/usr/bin/env bash
# Install everything the tests need (first time only) and run the whole suite:
# the core and model tests, the app (AppTest and a real browser), and every notebook and solution.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
. .venv/bin/activate
export STREAMLIT_BROWSER_GATHER_USAGE_STATS=false STREAMLIT_SERVER_HEADLESS=true PYTHONUNBUFFERED=1
exec python -m pytest -q --nbmake --nbmake-timeout=300 tests notebooks "$@"
