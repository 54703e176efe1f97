// Package lease holds the seat-lease rules of licmesh: pools and their
// admission policy, the leader's in-memory table of lease deadlines, and the
// signed lease document a collector (and the product behind it) checks
// offline.
//
// The package is pure: it depends on the standard library only, keeps no
// package-level state, and takes the clock as a parameter wherever time
// matters.
package lease
