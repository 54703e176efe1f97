// Package failover keeps the collector's view of the masters: the list it
// learned (bounded, each entry a checked host:port), which master answered
// last (tried first), the rotation to the next on failure, and the jittered
// exponential backoff between rounds of failures.
package failover
