// Package e2e runs licmesh's real binaries as separate processes on
// loopback and tries to break its promises: kill -9 of the leader, every
// master stopped, UDP blocked, bad tokens. Seat histories are checked with
// porcupine. The binaries come from $LICMESH_BIN (make test) or are built
// once per run.
package e2e
