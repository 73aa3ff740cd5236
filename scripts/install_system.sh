#!/usr/bin/env bash
# System packages voxmcp and its tests use; installs only what is missing (Debian/Ubuntu, needs root or sudo).
set -euo pipefail
pkgs=(espeak-ng sox libsox-fmt-all libportaudio2 redis-server tmux "$@")  # "$@": more, e.g. the flite user voice (Makefile test-deps)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "system packages present"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
