#!/usr/bin/env bash
# Makes a headless browser available for the report's end-to-end test: Debian's chromium package
# at /usr/bin/chromium, unless INSTAPRO_CHROMIUM already names an existing browser.
set -euo pipefail
if [ -n "${INSTAPRO_CHROMIUM:-}" ] && [ -x "${INSTAPRO_CHROMIUM}" ]; then
  echo "browser: ${INSTAPRO_CHROMIUM}"
  exit 0
fi
if [ -x /usr/bin/chromium ]; then
  echo "browser: /usr/bin/chromium"
  exit 0
fi
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
sudo_if_needed apt-get update -qq
sudo_if_needed apt-get install -y -qq chromium >/dev/null
echo "browser: /usr/bin/chromium"
