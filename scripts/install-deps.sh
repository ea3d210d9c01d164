#!/usr/bin/env bash
# Installs every Debian 12 package sigmaflow needs to build and run; with --test also what the test
# suite needs (Node.js and npm for the ComfyUI clients, Chromium for the browser test, torchrun).
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail
for_tests=0
[ "${1:-}" = "--test" ] && for_tests=1
PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread libgloo-dev
  libboost-dev nlohmann-json3-dev libfmt-dev libcli11-dev
  libgtest-dev googletest
  libpng-dev libplplot-dev plplot-driver-cairo fonts-dejavu-core
  libcmark-gfm-dev libcmark-gfm-extensions-dev
  zlib1g-dev
  dataset-fashion-mnist
)
# python3-torch provides torchrun, which tests/distributed launches sigmaflow with; chromium runs
# the browser test of the server (tests/browser).
[ $for_tests -eq 1 ] && PKGS+=(python3-torch chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the ComfyUI clients of the server tests (tests/clients); any node/npm on the
# PATH will do, else Debian's.
if [ $for_tests -eq 1 ]; then
  command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
fi
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
