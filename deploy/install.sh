#!/usr/bin/env bash
# Install or upgrade a smart-shelf gateway (Debian / Raspberry Pi OS). Run from the source tree:
#
#   sudo deploy/install.sh --store-id store-042 [--gateway-id gw-1] [--config-from my.toml]
#
# 1. the gateway's system packages (deploy/gateway-packages.sh: mosquitto, bluez, dbus, rfkill,
#    python3-venv), only the missing ones; no test tools (Chromium, chromedriver) on a gateway
# 2. the application into the virtualenv /opt/smartshelf/venv, the plain package without extras (no
#    onnx, no simulator dependencies: see pyproject.toml); on upgrade the previous one is kept
#    as /opt/smartshelf/venv.old and restored automatically when the new one fails to install
# 3. `shelf-edge install`: config (kept on upgrade), certificates (kept), broker TLS + ACL, systemd
#    units, user, services enabled and restarted
#
# Options for images and tests: --root DIR (write under DIR, start nothing), --skip-venv (reuse the
# existing venv), --wheelhouse DIR (offline: install wheels from DIR only). Every other option is
# passed to `shelf-edge install` (see `shelf-edge install --help`).
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="/"
SKIP_VENV=0
WHEELHOUSE=""
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$2"; shift 2 ;;
    --skip-venv) SKIP_VENV=1; shift ;;
    --wheelhouse) WHEELHOUSE="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) PASS+=("$1"); shift ;;
  esac
done
ROOT="$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)"
APP="${ROOT%/}/opt/smartshelf"
VENV="$APP/venv"

if [ "$ROOT" = "/" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install.sh: run as root (sudo)" >&2; exit 1; fi
  echo "==> gateway system packages"
  bash "$SRC/deploy/gateway-packages.sh"
fi

if [ "$SKIP_VENV" -eq 0 ]; then
  echo "==> virtualenv $VENV"
  mkdir -p "$APP"
  # A venv is not relocatable: keep a copy of the current one and restore it if the upgrade fails.
  if [ -d "$VENV" ]; then
    rm -rf "$VENV.old"
    cp -a "$VENV" "$VENV.old"
  else
    python3 -m venv "$VENV"
  fi
  PIP=("$VENV/bin/pip" install --disable-pip-version-check -q --upgrade -c "$SRC/constraints.txt")
  if [ -n "$WHEELHOUSE" ]; then PIP+=(--no-index --find-links "$WHEELHOUSE"); fi
  # The plain package: what the daemons import at run time, checked right after installing it.
  if ! "${PIP[@]}" "$SRC" || ! "$VENV/bin/python" -c "import edge.app, edge.ops.doctor, shelf_firmware_bridge.service"; then
    echo "install.sh: installing the application failed" >&2
    if [ -d "$VENV.old" ]; then rm -rf "$VENV"; mv "$VENV.old" "$VENV"; echo "previous version restored" >&2; fi
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/shelf-edge" ]; then
  echo "install.sh: $VENV/bin/shelf-edge is missing (drop --skip-venv)" >&2
  exit 1
fi
echo "==> shelf-edge install --root $ROOT"
exec "$VENV/bin/shelf-edge" install --root "$ROOT" "${PASS[@]}"
