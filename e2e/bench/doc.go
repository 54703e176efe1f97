// Package bench runs the measurements behind `make bench` and prints them as
// one table.
//
// Each measurement is a named entry in a Registry that produces Result rows.
// Measurements run one after another in a Session, which memoizes shared
// baselines so that a G benchmark can compare itself against the raw Raft
// apply loop (B1) measured in the same run on the same machine, whether or
// not B1 was also selected for printing.
//
// The baselines are deliberately plain: B0 records the machine's fsync
// latency and loopback round trips, B1 drives a 3-node hashicorp/raft cluster
// with raft-boltdb/v2 stores over plain TCP and a no-op FSM. Everything the
// project adds on top (mTLS, QUIC, the FSM, lease logic) is measured against
// these numbers, never against absolute ones.
//
// The G measurements drive the real system. G1, G3 and G4 start meshd
// masters as processes through e2e/harness (MeshCluster), enroll collector
// identities with join tokens and CSRs, and speak the collector protocol
// over HTTP/3 with mTLS exactly as collectord does, seeing the masters only
// through their public APIs: G1 acquires and releases seats (÷ B1), each
// collector's workers together in SeatOps calls as collectord sends them, G3
// renews held leases (÷ G1, and Raft entries per renewal), G4 kills the
// leader and times the first grant by a survivor (÷ the heartbeat timeout).
// G6 runs the FSM package's 1M-lease Go benchmarks in a `go test` process.
// G10 and U2 watch a real collectord's CPU and memory: idle with leases,
// and metering a ProcessMaker database with a SQL source. U2 has the
// demoproduct binary make the database, as `make run` does (`demoproduct
// create`), and measures two sites: the typical one, whose goals U2 holds,
// where the default collectord (MySQL driver only) meters the database's
// tables copied into MariaDB (started from the installed binaries by
// mesh/dbtest/pgserve) with collectors/sources/example-processmaker.yaml;
// and make run's, where collectord-full meters the SQLite database with
// `demoproduct sources`' file. U1 reports usage samples through ReportUsage
// one per call (one Raft entry per sample) and batched, and divides the
// two. G11 runs a fleet of simulated collectors in this process (10,000,
// or $LICMESH_BENCH_COLLECTORS): each enrolls with its own key and
// certificate and holds its own QUIC connections (sharing a few UDP
// sockets), keeps an entitlement stream open, holds leases and renews
// them every third of the TTL, and says hello as collectord does. It
// measures the masters' CPU and resident memory per collector, the
// leader's share, and how long a license change takes to reach every
// collector's stream.
//
// Like all of e2e, the package imports nothing of the project but the
// harness and the mesh/wire protocol; it runs the project's binaries,
// demoproduct among them, instead of importing their packages.
package bench
