#!/usr/bin/env bash
# Installs the Debian 12 packages Chorus builds and tests with; does nothing when all are present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
  libsimdjson-dev librocksdb-dev prometheus-cpp-dev libboost-dev libyaml-cpp-dev
  libexpected-dev libsystemd-dev libgoogle-perftools-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  prometheus prometheus-alertmanager curl
  systemd dpkg-dev file
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
