#!/usr/bin/env bash
# Installs every Debian 12 package sigmaflow needs to build, test and run. Idempotent: installs only
# what is missing. Run as root (or with sudo available).
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread libgloo-dev
  libboost-dev nlohmann-json3-dev libfmt-dev libcli11-dev
  libgtest-dev googletest
  libpng-dev libplplot-dev plplot-driver-cairo fonts-dejavu-core
  zlib1g-dev
  dataset-fashion-mnist
  python3-torch
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3-torch provides torchrun, which tests/distributed launches sigmaflow with.
# Node.js and npm run the ComfyUI clients of the server tests (tests/clients); any node/npm on the
# PATH will do, else Debian's.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
