// Package harness starts licmesh's real binaries as separate processes for
// end-to-end tests: masters (meshd run), collectors (collectord run) and
// meshctl, each on its own loopback ports and data directory, with helpers
// to kill, stop, restart and observe them. It imports nothing of the project
// but the wire clients; everything else is seen through the public API.
package harness
