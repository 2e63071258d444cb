#!/usr/bin/env bash
# Installs what a fresh Debian bookworm machine with Node 20 lacks to build and test mru:
#  - a Vulkan driver Dawn accepts (Mesa lavapipe from bookworm-backports) for the WebGPU backend,
#  - Debian's chromium for the browser test (never a downloaded browser),
#  - the workspace's npm dependencies, with pnpm at the version pinned in package.json.
# Safe to run twice. System packages are skipped when not root or when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  dpkg -s mesa-vulkan-drivers 2>/dev/null | grep -q '^Version: 2[4-9]' || need+=(vulkan)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  if [ ${#need[@]} -gt 0 ]; then
    # Add bookworm-backports on the mirror this machine already uses (Mesa >= 24 lives there).
    echo "setup: installing ${need[*]} with apt"
    if ! found=$(bash scripts/apt-mirror.sh /); then
      echo "setup: cannot add bookworm-backports: no Debian mirror found in the apt sources" >&2
      exit 1
    fi
    if [ "$found" != present ]; then
      echo "setup: adding bookworm-backports on ${found#mirror }"
      echo "deb ${found#mirror } bookworm-backports main" > /etc/apt/sources.list.d/mru-backports.list
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
    apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null \
      || { echo "setup: installing mesa-vulkan-drivers from bookworm-backports failed" >&2; exit 1; }
    apt-get install -y -qq chromium >/dev/null || { echo "setup: installing chromium failed" >&2; exit 1; }
    echo "setup: system packages installed"
  fi
else
  echo "setup: not root (or no apt): skipping system packages; the WebGPU and browser tests need" >&2
  echo "       mesa-vulkan-drivers >= 24 (bookworm-backports) and chromium" >&2
fi

echo "setup: installing npm dependencies (pnpm 12.4.2)"
npx -y pnpm@12.4.2 install --frozen-lockfile || { echo "setup: pnpm install failed" >&2; exit 1; }
