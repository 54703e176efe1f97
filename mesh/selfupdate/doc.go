// Package selfupdate is how a licmesh binary replaces itself safely.
//
// The new build is written beside the running one, as <exe>.next, checked
// (its size and SHA-256 as it is copied, then its own `version` output) and
// fsynced: Stage. Swap then keeps the running build as <exe>.prev and renames
// .next over <exe>, each step an atomic rename in one directory, which is
// fsynced. The process then restarts into the new file (Restart: exec in
// place, or exit for the supervisor to start it again).
//
// A marker written before the restart (Pending) tells the next start what
// was under way: the new build, finding itself the target, runs a trial and
// reports; a build that is not the target knows it was put back. Revert puts
// <exe>.prev back and keeps the build it replaces as the new .prev, so a
// revert can itself be reverted and the failed build stays at hand for
// diagnostics.
//
// It uses the standard library only, so that the collector stays small. The
// directory holding the binary must be writable by the process; a crash at
// any step leaves <exe> whole, either the old build or the new one.
package selfupdate
