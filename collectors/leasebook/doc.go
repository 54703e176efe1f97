// Package leasebook is the collector's lease book: the seat leases it holds for
// the product's holders, each with its validity counted on the monotonic
// clock from just before the request that granted or renewed it was sent.
//
// The book decides nothing on the network; the agent asks it what to renew
// and when, and tells it what the masters answered (already validated). A
// lease's state follows from the clock: valid until validUntil, then expired
// (still renewable if a master answers again), or lost when a master said it
// no longer knows it, or releasing while a release waits for a master.
//
// Every method is safe for concurrent use. Times given to the book must come
// from the clock.Clock it was made with (the system clock keeps a monotonic
// reading; never strip it with Round, Truncate or a serialization round
// trip).
package leasebook
