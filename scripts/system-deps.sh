#!/usr/bin/env bash
# Install the Debian packages the test suite needs, if they are missing:
#   postgresql            — the suite runs once against a real PostgreSQL server
#   chromium              — the browser tests (tests/e2e) drive Debian's Chromium headless through Playwright;
#                           Playwright never downloads a browser of its own
#   fonts-noto-cjk        — Chinese text must render (not as boxes) in the console and its screenshots
# Uses apt-get as root, or through sudo. With CI=true a failure to install is an error; elsewhere it is too,
# because `make test` must run the whole suite.
set -euo pipefail

PACKAGES=(postgresql chromium fonts-noto-cjk)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "error: need root or sudo to install ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
