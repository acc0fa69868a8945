#!/usr/bin/env bash
# The Debian packages a smart-shelf GATEWAY runs on (called by install.sh), only those missing.
# Debian 12 / Raspberry Pi OS. Test tools (Chromium, chromedriver, PostgreSQL, Java) are NOT here:
# they are the development machine's, in system-packages.sh.
#   mosquitto      the store's MQTT broker (install.sh writes its TLS listener and ACL)
#   bluez          bluetoothd: the local adapter bleak scans with (BlueZ over the system D-Bus)
#   dbus           the system bus bleak talks to BlueZ through
#   rfkill         `rfkill unblock bluetooth`, the fix `shelf-edge doctor` prints for a blocked adapter
#   python3-venv   the application's virtualenv (/opt/smartshelf/venv) on Debian's python3
set -euo pipefail
packages=(mosquitto bluez dbus rfkill python3-venv)
need=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "gateway packages: all present (${packages[*]})"
  exit 0
fi
echo "gateway packages: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
