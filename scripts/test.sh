#!/usr/bin/env bash
# Install everything the tests need (first time only) and run the whole suite:
# formatting and lint (ruff), the core and model tests, the app (AppTest and a real browser), and every
# notebook and solution.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
. .venv/bin/activate
export STREAMLIT_BROWSER_GATHER_USAGE_STATS=false STREAMLIT_SERVER_HEADLESS=true PYTHONUNBUFFERED=1
ruff format --check --quiet . || { echo "ruff format: run 'ruff format .' (see the files above)"; exit 1; }
ruff check --quiet .
# Two workers (pytest-xdist), a file each at a time: notebook kernels, browsers and app servers wait on
# each other more than they compute, so two at once use a 2-core machine's idle time.
exec python -m pytest -q -n 2 --dist loadfile --nbmake --nbmake-timeout=300 tests notebooks "$@"
