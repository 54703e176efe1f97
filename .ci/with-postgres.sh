#!/usr/bin/env bash
# Runs a command with one throwaway PostgreSQL for the whole run: the
# store's tests, the collector's SQL sources and the end-to-end hub tests
# share it through LICMESH_TEST_PG_DSN (mesh/dbtest/pgserve starts it from
# the installed binaries, as an unprivileged user when root). Without the
# binaries the command runs without it, and the tests that need it say so
# (or fail, under CI).
set -uo pipefail
if [ -n "${LICMESH_TEST_PG_DSN:-}" ]; then exec "$@"; fi
dir=$(mktemp -d)
trap 'exec 9>&-; wait 2>/dev/null; rm -rf "$dir"' EXIT
go build -o "$dir/pgserve" ./mesh/dbtest/pgserve || exit 1
mkfifo "$dir/in"
"$dir/pgserve" <"$dir/in" >"$dir/out" 2>"$dir/err" &
pid=$!
exec 9>"$dir/in"
for _ in $(seq 1 300); do
  if grep -q '^LICMESH_TEST_PG_DSN=' "$dir/out" 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if line=$(grep -m1 '^LICMESH_TEST_PG_DSN=' "$dir/out"); then
  export "${line?}"
  echo "postgres: one server for the run ($(sed -E 's#//[^@]*@#//***@#' <<<"${line#*=}"))"
else
  echo "postgres: none for this run: $(cat "$dir/err")" >&2
fi
"$@"
rc=$?
exec 9>&-
wait "$pid" 2>/dev/null
exit $rc
