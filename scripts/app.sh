#!/usr/bin/env bash
# Install what the app needs (first time only) and start it.
#   bash scripts/app.sh [--port N]           this machine only, http://localhost:8501
#   bash scripts/app.sh --class [--bind ADDRESS] [--port N] [--models DIR]
#                                            one server for a class (docs/class_mode.md): listens on
#                                            ADDRESS (default: this machine's first network address),
#                                            students cannot load other models (or only those in DIR),
#                                            no error details are sent to browsers, no outside calls.
# Any other argument is passed to `streamlit run` (e.g. --theme.base=dark).
set -euo pipefail
CLASS=0 BIND="" PORT="" MODELS="off" EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --class) CLASS=1 ;;
    --bind) BIND="${2:?--bind needs an address, e.g. --bind 192.168.1.20}"; shift ;;
    --port) PORT="${2:?--port needs a number}"; shift ;;
    --models) MODELS="${2:?--models needs a folder}"; shift ;;
    *) EXTRA+=("$1") ;;
  esac
  shift
done
if [ "$CLASS" = 0 ] && { [ -n "$BIND" ] || [ "$MODELS" != off ]; }; then
  echo "--bind and --models belong to class mode: add --class (see docs/class_mode.md)." >&2
  exit 2
fi
if [ "$CLASS" = 1 ]; then
  PORT="${PORT:-8501}"
  BIND="${BIND:-$(hostname -I 2>/dev/null | awk '{print $1}')}"
  if [ -z "$BIND" ]; then
    echo "No network address found: pass one with --bind ADDRESS (see: hostname -I)." >&2
    exit 2
  fi
  if [ "$MODELS" != off ]; then
    if [ ! -d "$MODELS" ]; then
      echo "--models $MODELS is not a folder: create it and put the class's models in it." >&2
      exit 2
    fi
    MODELS="$(cd "$MODELS" && pwd)"  # absolute, before we move to the repository
  fi
fi
cd "$(dirname "$0")/.."
SHOW="$BIND"  # the address students type (a wildcard bind is shown as this machine's address)
case "$BIND" in 0.0.0.0|::) SHOW="$(hostname -I 2>/dev/null | awk '{print $1}')"; SHOW="${SHOW:-$(hostname)}" ;; esac
# DSA_NO_SETUP=1 skips the install check (a ready .venv; the tests start the app this way, offline)
[ "${DSA_NO_SETUP:-0}" = 1 ] || scripts/setup.sh app
. .venv/bin/activate
if [ "$CLASS" = 0 ]; then
  exec streamlit run app.py ${PORT:+--server.port="$PORT"} ${EXTRA[@]+"${EXTRA[@]}"}
fi
echo "Class mode: listening on $BIND; students open http://$SHOW:$PORT (models: $MODELS)"
# browser.serverAddress names the address students use, so Streamlit does not look up a public IP
# address at start-up (checkip.amazonaws.com), even when BIND is 0.0.0.0.
DSA_MODEL_FOLDERS="$MODELS" DSA_CLASS_MODE=1 exec streamlit run app.py \
  --server.address="$BIND" --server.port="$PORT" --browser.serverAddress="$SHOW" \
  --server.runOnSave=false --server.fileWatcherType=none --browser.gatherUsageStats=false \
  --client.showErrorDetails=none ${EXTRA[@]+"${EXTRA[@]}"}
