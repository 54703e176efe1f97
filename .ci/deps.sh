#!/usr/bin/env bash
# Installs the system packages the test suite needs (Debian). As root it
# installs what is missing; otherwise it only reports what it cannot install,
# and the tests that need it say so when they skip.
set -uo pipefail
# PostgreSQL and MariaDB for the collector's SQL sources.
bash "$(dirname "$0")/databases.sh" || exit 1
pkgs=()
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
command -v ip >/dev/null 2>&1 || pkgs+=(iproute2)
command -v iptables >/dev/null 2>&1 || pkgs+=(iptables)
if [ ${#pkgs[@]} -eq 0 ]; then
  echo "deps: chromium, iproute2 and iptables are present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: SKIPPED installing ${pkgs[*]}: not root or no apt-get; tests needing them will say they skip" >&2
  exit 0
fi
echo "deps: installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null \
  || { echo "deps: apt-get install ${pkgs[*]} failed" >&2; exit 1; }
