#!/usr/bin/env bash
# Installs the database servers that collectors/sources tests use as real
# sources: PostgreSQL and MariaDB (Debian packages). The tests start their own
# throwaway instances from these binaries (on loopback, free ports, temp
# dirs, as an unprivileged user when run as root) and stop them at the end;
# this script only makes sure the binaries are there. The packages' own
# services are kept from starting during the install: nothing listens on
# 5432 or 3306 because of this script.
#
# As root with apt-get it installs what is missing; otherwise it reports what
# is missing and exits 0, and the tests skip loudly (or fail when CI is set).
set -uo pipefail

have_pg() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }
have_maria() {
  { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; } &&
    { command -v mariadb-install-db >/dev/null 2>&1 || command -v mysql_install_db >/dev/null 2>&1; }
}

pkgs=()
have_pg || pkgs+=(postgresql)
have_maria || pkgs+=(mariadb-server)
if [ ${#pkgs[@]} -eq 0 ]; then
  echo "databases: postgresql and mariadb-server are present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "databases: SKIPPED installing ${pkgs[*]}: not root or no apt-get; the sources tests will skip (or fail under CI)" >&2
  exit 0
fi

# Keep the packages' services from starting (a Docker image usually has such
# a policy already; then it is left as it is).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && rm -f "$policy"; }
trap cleanup EXIT

echo "databases: installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }; then
  echo "databases: apt-get install ${pkgs[*]} failed" >&2
  exit 1
fi
have_pg || { echo "databases: postgresql installed but initdb/postgres not found under /usr/lib/postgresql/*/bin" >&2; exit 1; }
have_maria || { echo "databases: mariadb-server installed but mariadbd/mariadb-install-db not found" >&2; exit 1; }
echo "databases: ready"
