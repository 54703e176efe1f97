// Package version holds the build's release version, set by the linker.
package version

// Version is the licmesh release this binary belongs to; `make build` sets it
// from git describe.
var Version = "dev"
