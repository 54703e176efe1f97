// Package collectors holds what every part of the collector agent shares: the
// collector's identity type. The agent itself lives in the sub-packages:
// config (the strict YAML file), identity (what enrollment leaves in the data
// directory), leases (the lease book on the monotonic clock), masters (the
// master list, failover and backoff), localapi (the HTTP API the product on
// the same host calls) and agent (the part that owns them all and runs).
package collectors

// ID is a collector's identity as the masters assigned it at enrollment; it is
// the CN and URI SAN of the collector's client certificate.
type ID string

// String returns the ID as text.
func (id ID) String() string { return string(id) }
