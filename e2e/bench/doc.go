// Package bench runs the measurements behind `make bench` and prints them as
// one table.
//
// Each measurement is a named entry in a Registry (B0, B1, and later the G
// benchmarks) that produces Result rows. Measurements run one after another
// in a Session, which memoizes shared baselines so that a G benchmark can
// compare itself against the raw Raft apply loop (B1) measured in the same run
// on the same machine, whether or not B1 was also selected for printing.
//
// The baselines are deliberately plain: B0 records the machine's fsync
// latency and loopback round trips, B1 drives a 3-node hashicorp/raft cluster
// with raft-boltdb/v2 stores over plain TCP and a no-op FSM. Everything the
// project adds on top (mTLS, QUIC, the FSM, lease logic) is measured against
// these numbers, never against absolute ones.
package bench
