#!/usr/bin/env bash
# Install the Debian packages listed in system-packages.txt that are missing (needs root).
set -euo pipefail
list="${1:-system-packages.txt}"
missing=()
while read -r pkg _; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$list"
if ((${#missing[@]} == 0)); then exit 0; fi
echo "installing Debian packages: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "not root: run 'sudo apt-get install ${missing[*]}' (the browser and office tests need them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
