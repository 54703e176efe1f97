package wire

import (
	"strings"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// LeaseKind says what is special about a lease, for the lists that show
// leases (meshctl, the dashboard): "borrowed" (lent until its end),
// "offline" (let in by a fail-open collector that reached no master),
// "overage" (granted past the pool's seats), joined by commas; "" for an
// ordinary lease.
func LeaseKind(l *licmeshv1.Lease) string {
	var out []string
	if l.GetBorrowedUntilMs() != 0 {
		out = append(out, "borrowed")
	}
	if l.GetOffline() {
		out = append(out, "offline")
	}
	if l.GetOverage() {
		out = append(out, "overage")
	}
	return strings.Join(out, ",")
}
